package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
)

// A bot that joins the lobby, greets, and answers "!ping". It needs a
// running server, so this example is compiled but not run.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c, err := client.Dial(ctx, "ws://127.0.0.1:8080/ws", &client.Options{Name: "pingbot"})
	if errors.Is(err, chatfly.ErrInvalidName) {
		log.Fatal("the server does not like the name")
	}
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	me := c.Welcome().Session

	j, err := c.Join(ctx, "lobby", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d members, latest seq %d\n", j.Room.Name, len(j.Members), j.Room.Seq)

	if _, err := c.Send(ctx, "lobby", "hello, I answer !ping"); err != nil {
		log.Fatal(err)
	}

	// Calls wait for replies, which queue behind events: answer from
	// another goroutine so that reading Events never stalls.
	answers := make(chan string, 16)
	go func() {
		for room := range answers {
			if _, err := c.Send(ctx, room, "pong"); err != nil {
				log.Print(err)
			}
		}
	}()
	defer close(answers)

	for ev := range c.Events() {
		switch ev.Type {
		case "message":
			if ev.From.ID != me && ev.Text == "!ping" {
				select {
				case answers <- ev.Room:
				default: // too busy: skip
				}
			}
		case "presence":
			fmt.Printf("%s %ss %s (%d now)\n", ev.Member.Name, ev.Event, ev.Room, ev.Members)
		case "error":
			log.Print(ev.Err())
		}
	}
	log.Printf("disconnected: %v (code %d)", c.Err(), c.CloseCode())
}
