// Package client is the Go client for the chatfly wire protocol (see
// PROTOCOL.md at the root of the module). Tests, bots and the load tool
// (cmd/chatfly-bench) use it to talk to a chatfly server, standalone or
// behind API Gateway.
//
// Use [Dial] to connect: it performs the WebSocket upgrade, sends hello
// with Options.Name (or resumes with Options.Token) and waits for the
// welcome, which [Client.Welcome] returns.
//
//	c, err := client.Dial(ctx, "ws://127.0.0.1:8080/ws", &client.Options{Name: "Ada"})
//	if err != nil {
//		return err // a *chatfly.Error if the server refused the hello
//	}
//	defer c.Close()
//
// Use the request methods to act: [Client.Rooms], [Client.Join],
// [Client.Send], [Client.History], [Client.Leave], [Client.Ping]. Each
// sends one frame with a fresh id and waits for the reply with that id, so
// any number of goroutines may call them at once. An error frame comes
// back as a *[chatfly.Error] that matches the sentinels of package
// chatfly:
//
//	if _, err := c.Send(ctx, "lobby", "hi"); errors.Is(err, chatfly.ErrNotMember) {
//		// join first
//	}
//
// Use [Client.RouletteJoin], [Client.RouletteNext] and
// [Client.RouletteLeave] for the chat roulette: while the session waits,
// the client asks again by itself when the server says, and the pair
// arrives on Events as "roulette.matched".
//
// Use [Client.Do] for actions without a method of their own (game.*,
// room.*, later additions), [Client.Typing] for the fire-and-forget typing
// notice, and [Client.SendRaw] to write arbitrary frames in tests.
//
// Use [Client.Events] to receive what others do: messages, presence and
// typing events, in the order the server sent them, as [Event] values. A
// server frame may hold several events separated by '\n'; the client splits
// them. One goroutine per Client reads the connection and decodes each line
// without reflection and with about one allocation per message, so the
// receive path stays cheap enough to measure delivery latency. If the
// consumer falls behind, the client stops reading (backpressure) and the
// server eventually closes the connection with 4000; see [Client.Events].
//
//	for ev := range c.Events() {
//		if ev.Type == "message" {
//			fmt.Println(ev.From.Name+":", ev.Text)
//		}
//	}
//	// The connection ended; c.Err() says why, c.CloseCode() with which code.
//
// Use [Client.Close] to hang up; it is idempotent and leaves no goroutine
// behind. When the server ends the connection, Events is closed and
// [Client.Err] returns a *[CloseError] with the close code: 1001 (server
// restarting: reconnect with Welcome().Token), 4000 (too slow: reconnect and
// Join with after), 4001 (replaced by another connection), and so on.
//
// The client does not reconnect by itself: to reconnect, Dial again with
// Options.Token and Join each room with the last seq seen.
package client
