// A typed use of @chatfly/client: tsc checks it against chatfly.d.ts in CI
// (tsc -p clients/js). It is an example, not run.
import { ChatflyError, connect, type Client, type Game, type Message } from "@chatfly/client";

interface TicTacToeView {
  board: ("x" | "o" | "")[];
}

export async function demo(signal: AbortSignal): Promise<Client> {
  const chat = await connect({ url: "wss://chat.example.com/ws", name: "Ada", signal, connectTimeout: 5000 });
  const shown: Message[] = [];
  chat.on("message", (m) => shown.push(m));
  chat.on("reset", (r) => {
    // The room is a new sequence: show it afresh.
    shown.splice(0, shown.length, ...shown.filter((m) => m.room !== r.room));
  });
  chat.on("presence", (p) => console.log(p.member.name, p.event === "join" ? "joined" : "left", p.members));
  chat.on("state", (s) => s.state === "reconnecting" && console.log("back in", s.delay, "ms"));
  chat.on("moderation", (m) => m.action === "kick" && console.log(m.target?.name, "was kicked:", m.reason ?? ""));
  chat.on("custom", (e) => console.log(e.event, e.data));

  const lobby = await chat.join("lobby");
  console.log(lobby.room.name, lobby.members.length, "here, epoch", lobby.room.epoch ?? "none yet");
  const max = chat.limits.textRunes;
  try {
    const { seq } = await chat.send("lobby", "hello");
    console.log("sent as", seq, "of at most", max, "characters");
  } catch (err) {
    if (err instanceof ChatflyError && err.code === "too_long") console.log("shorter, please");
    else throw err;
  }

  const room = await chat.roomCreate("Book club", { topic: "Dune", visibility: "private" });
  await chat.join(room.id);
  await chat.mute(room.id, "Qx0", { duration: 600 });
  await chat.ban(room.id, "Qx0", { reason: "spam", address: true });
  const { bans } = await chat.roomBans(room.id);
  console.log(bans.map((b) => b.name));

  const game: Game = await chat.gameStart(room.id, "tictactoe", { invite: ["Qx0"] });
  chat.on("game.state", (s) => {
    const view = s.game.view as TicTacToeView;
    if (s.game.status === "playing" && s.game.turn?.includes(s.game.you)) console.log(view.board);
  });
  await chat.gameMove(room.id, game.id, { cell: 4 });

  const r = await chat.rouletteJoin(["go", "music"]);
  if (r.type === "roulette.waiting") console.log("waiting, asking again in", r.retry);
  chat.on("roulette.matched", (m) => void chat.send(m.room, "hi " + m.partner.name));

  const votes = await chat.call<{ votes: number }>("app.vote", { choice: 2 });
  console.log(votes.votes);
  return chat;
}
