package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
)

// HubTestOptions sizes [RunHubTests]. A nil *HubTestOptions, and every
// zero field, means the default.
type HubTestOptions struct {
	// Sessions is how many roulette sessions join, press next and leave
	// at random on four Hubs. Default 200.
	Sessions int
	// Ops is how many actions each session takes. Default 6.
	Ops int
}

// RunHubTests runs scenarios of the chatfly Hub over a Storage made by h:
// several Hubs share one Storage, as several servers or Lambda invocations
// share a DynamoDB table, and the features that rely on the Storage's
// atomic primitives must hold under concurrency. Every Storage should pass
// them as well as [RunConformanceTests]. A slow backend (an emulator) may
// run them smaller with opts.
func RunHubTests(t *testing.T, h Harness, opts *HubTestOptions) {
	o := HubTestOptions{Sessions: 200, Ops: 6}
	if opts != nil && opts.Sessions > 0 {
		o.Sessions = opts.Sessions
	}
	if opts != nil && opts.Ops > 0 {
		o.Ops = opts.Ops
	}
	t.Run("Roulette/Concurrent", func(t *testing.T) { testRouletteConcurrent(t, h, o.Sessions, o.Ops) })
	t.Run("Roulette/EndsOnce", func(t *testing.T) { testRouletteEndsOnce(t, h, max(4, o.Sessions/10)) })
	t.Run("Game/CompareAndSet", func(t *testing.T) { testGameCompareAndSet(t, h, 30) })
}

// sharedTransport is one Transport for all Hubs, as API Gateway is: any Hub
// reaches any connection. It records every event per connection.
type sharedTransport struct {
	mu     sync.Mutex
	events map[string][]map[string]any
}

func (tr *sharedTransport) Send(_ context.Context, conn string, frame []byte) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, line := range bytes.Split(frame, []byte{'\n'}) {
		var ev map[string]any
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("hub sent invalid JSON %q: %w", line, err)
		}
		tr.events[conn] = append(tr.events[conn], ev)
	}
	return nil
}

func (tr *sharedTransport) Close(context.Context, string, chatfly.CloseCode, string) error {
	return nil
}

// testRouletteConcurrent has sessions join, press next and leave at random
// on four Hubs over one Storage, then checks the roulette's invariants: no
// self pair, every pair announced to both sides with the same room, no
// session in two pairs, and at quiescence nobody waiting while another
// compatible waiter exists.
func testRouletteConcurrent(t *testing.T, h Harness, sessions, opsEach int) {
	ctx := context.Background()
	env, err := h.MakeStorage(ctx, t)
	if err != nil {
		t.Fatal(err)
	}
	tr := &sharedTransport{events: map[string][]map[string]any{}}
	hubs := make([]*chatfly.Hub, 4)
	for i := range hubs {
		hubs[i] = chatfly.New(env.Storage, tr, stressOptions())
	}
	run := ctx // each test run has its own connection ids
	prefix := "rt-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	do := func(hub *chatfly.Hub, conn, frame string) {
		if err := hub.Receive(run, conn, []byte(frame)); err != nil {
			t.Errorf("%s: %s: %v", conn, frame, err)
		}
	}
	conns := make([]string, sessions)
	for i := range conns {
		conns[i] = prefix + strconv.Itoa(i)
		if err := hubs[i%4].Connect(ctx, &chatfly.ConnectRequest{ConnID: conns[i]}); err != nil {
			t.Fatal(err)
		}
		do(hubs[i%4], conns[i], `{"action":"hello","name":"s`+strconv.Itoa(i)+`"}`)
	}

	var wg sync.WaitGroup
	const workers = 20
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for range opsEach {
				for i := w; i < sessions; i += workers {
					hub := hubs[rng.IntN(len(hubs))]
					switch r := rng.IntN(10); {
					case r < 5:
						do(hub, conns[i], `{"action":"roulette.join"}`)
					case r < 8:
						do(hub, conns[i], `{"action":"roulette.next"}`)
					default:
						do(hub, conns[i], `{"action":"roulette.leave"}`)
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Quiescence: waiting sessions refresh their place (as clients do while
	// waiting) until no more pairs form.
	for round := 0; round < 5; round++ {
		waiting := waitingSessions(tr, conns)
		for _, conn := range waiting {
			do(hubs[round%4], conn, `{"action":"roulette.join"}`)
		}
		if len(waitingSessions(tr, conns)) == len(waiting) {
			break
		}
	}
	if w := waitingSessions(tr, conns); len(w) > 1 {
		t.Errorf("at quiescence %d sessions wait although any two of them are compatible: %v", len(w), w)
	}

	tr.mu.Lock()
	defer tr.mu.Unlock()
	type announce struct{ conn, partner string }
	byRoom := map[string][]announce{}
	sessionOf := map[string]string{} // conn → session id, from welcome
	for _, conn := range conns {
		for _, ev := range tr.events[conn] {
			if ev["type"] == "welcome" {
				sessionOf[conn] = ev["session"].(string)
			}
		}
	}
	for _, conn := range conns {
		seen := map[string]bool{} // a join while paired repeats the pair
		for _, ev := range tr.events[conn] {
			room, _ := ev["room"].(string)
			if ev["type"] != "roulette.matched" || seen[room] {
				continue
			}
			seen[room] = true
			partner := ev["partner"].(map[string]any)["id"].(string)
			if partner == sessionOf[conn] {
				t.Errorf("%s was paired with itself", conn)
			}
			byRoom[room] = append(byRoom[room], announce{conn, partner})
		}
	}
	pairs := len(byRoom)
	for room, as := range byRoom {
		if len(as) != 2 || as[0].partner != sessionOf[as[1].conn] || as[1].partner != sessionOf[as[0].conn] {
			t.Errorf("pair room %s was announced as %v: want both sides, each naming the other", room, as)
		}
	}
	// Stored pairs are mutual: nobody is left in a pair whose other side
	// has moved on (which is what two pairs at once would look like).
	for _, conn := range conns {
		sid := sessionOf[conn]
		it, err := env.Storage.Get(ctx, chatfly.Key{Partition: "sess#" + sid, Sort: "pair"})
		if err != nil {
			continue
		}
		var p struct {
			Room    string         `json:"room"`
			Partner chatfly.Member `json:"partner"`
		}
		_ = json.Unmarshal(it.Value, &p)
		pit, err := env.Storage.Get(ctx, chatfly.Key{Partition: "sess#" + p.Partner.ID, Sort: "pair"})
		var pp struct {
			Room string `json:"room"`
		}
		if err == nil {
			_ = json.Unmarshal(pit.Value, &pp)
		}
		if pp.Room != p.Room {
			t.Errorf("%s is paired in %s, but its partner is in %q", sid, p.Room, pp.Room)
		}
	}
	t.Logf("%d sessions, %d operations each, on 4 hubs: %d pairs formed (each announced to both sides)", sessions, opsEach, pairs)
	if pairs == 0 {
		t.Error("no pair was ever formed")
	}
}

// testRouletteEndsOnce pairs two sessions, then has both press next or
// leave at the same moment on two other Hubs, rounds times: every pair ends
// exactly once, with one roulette.ended sent to one side, and neither side
// keeps a record of the pair.
func testRouletteEndsOnce(t *testing.T, h Harness, rounds int) {
	ctx := context.Background()
	env, err := h.MakeStorage(ctx, t)
	if err != nil {
		t.Fatal(err)
	}
	tr := &sharedTransport{events: map[string][]map[string]any{}}
	hubs := make([]*chatfly.Hub, 4)
	for i := range hubs {
		hubs[i] = chatfly.New(env.Storage, tr, stressOptions())
	}
	do := func(hub *chatfly.Hub, conn, frame string) {
		if err := hub.Receive(ctx, conn, []byte(frame)); err != nil {
			t.Errorf("%s: %s: %v", conn, frame, err)
		}
	}
	events := func(conn, typ string) []map[string]any {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		var out []map[string]any
		for _, ev := range tr.events[conn] {
			if ev["type"] == typ {
				out = append(out, ev)
			}
		}
		return out
	}
	prefix := "re-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	ends := [2]string{`{"action":"roulette.next"}`, `{"action":"roulette.leave"}`}
	for r := range rounds {
		pair := []string{prefix + strconv.Itoa(r) + "a", prefix + strconv.Itoa(r) + "b"}
		for i, conn := range pair {
			if err := hubs[i].Connect(ctx, &chatfly.ConnectRequest{ConnID: conn}); err != nil {
				t.Fatal(err)
			}
			do(hubs[i], conn, `{"action":"hello","name":"e`+strconv.Itoa(i)+`"}`)
			do(hubs[i], conn, `{"action":"roulette.join"}`)
		}
		matched := events(pair[1], "roulette.matched")
		if len(matched) != 1 {
			t.Fatalf("round %d: not paired: %v", r, matched)
		}
		room := matched[0]["room"].(string)
		// Both end it at once, through two other Hubs: next/next,
		// next/leave, leave/next, leave/leave in turn.
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, conn := range pair {
			wg.Go(func() {
				<-start
				do(hubs[2+i], conn, ends[(r>>i)&1])
			})
		}
		close(start)
		wg.Wait()
		var got []string
		for _, conn := range pair {
			for _, ev := range events(conn, "roulette.ended") {
				if ev["room"] == room {
					got = append(got, conn+": "+fmt.Sprint(ev["reason"]))
				}
			}
		}
		if len(got) != 1 {
			t.Errorf("round %d (%s, %s): the pair ended %d times: %v", r, ends[r&1], ends[r>>1&1], len(got), got)
		}
		for _, conn := range pair {
			do(hubs[0], conn, `{"action":"roulette.leave"}`) // out of the queue, and out of a new pair of the two
			welcome := events(conn, "welcome")
			if len(welcome) == 1 {
				if _, err := env.Storage.Get(ctx, chatfly.Key{Partition: "sess#" + welcome[0]["session"].(string), Sort: "pair"}); err == nil {
					t.Errorf("round %d: %s still has a pair record after leaving", r, conn)
				}
			}
		}
	}
}

// waitingSessions returns the connections whose latest roulette state is
// waiting: the last roulette frame they got is a waiting reply.
func waitingSessions(tr *sharedTransport, conns []string) []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []string
	for _, conn := range conns {
		evs := tr.events[conn]
		for i := len(evs) - 1; i >= 0; i-- {
			switch evs[i]["type"] {
			case "roulette.waiting":
				out = append(out, conn)
			case "roulette.matched", "roulette.ended", "roulette.left":
			default:
				continue
			}
			break
		}
	}
	return out
}

// tally is a game for testing compare-and-set: both seats may always move;
// every move adds one; the game ends at a target.
type tally struct{ target int }

func (g tally) Info() chatfly.GameInfo {
	return chatfly.GameInfo{Name: "tally", Title: "Tally", MinPlayers: 2, MaxPlayers: 2}
}

func (tally) Start([]string, *rand.Rand) ([]byte, error) { return []byte("0"), nil }

func (g tally) Move(state []byte, _ int, move json.RawMessage) ([]byte, error) {
	n, _ := strconv.Atoi(string(state))
	var m struct{ Expect int }
	if err := json.Unmarshal(move, &m); err != nil {
		return nil, chatfly.ErrIllegalMove
	}
	if m.Expect >= 0 && m.Expect != n {
		// A move made for a state that has moved on (turn-based games
		// reject such moves as out of turn or on a taken cell).
		return nil, chatfly.Errorf(chatfly.ErrIllegalMove, "stale move")
	}
	return []byte(strconv.Itoa(n + 1)), nil
}

func (tally) View(state []byte, _ int) (any, error) { return json.RawMessage(state), nil }

func (g tally) Status(state []byte) (chatfly.GameStatus, error) {
	n, _ := strconv.Atoi(string(state))
	if n >= g.target {
		return chatfly.GameStatus{Over: true}, nil
	}
	return chatfly.GameStatus{Turn: []int{0, 1}}, nil
}

// testGameCompareAndSet has two Hubs apply moves to one game at the same
// time. Moves that do not depend on the state all apply, none lost; moves
// made for one version compete, and exactly one wins each version.
func testGameCompareAndSet(t *testing.T, h Harness, rounds int) {
	ctx := context.Background()
	env, err := h.MakeStorage(ctx, t)
	if err != nil {
		t.Fatal(err)
	}
	tr := &sharedTransport{events: map[string][]map[string]any{}}
	opts := stressOptions()
	opts.Games = []chatfly.Game{tally{target: 1 << 30}}
	hubs := []*chatfly.Hub{chatfly.New(env.Storage, tr, opts), chatfly.New(env.Storage, tr, opts)}
	prefix := "gt-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	recv := func(hub *chatfly.Hub, conn, frame string) map[string]any {
		if err := hub.Receive(ctx, conn, []byte(frame)); err != nil {
			t.Fatalf("%s: %v", frame, err)
		}
		tr.mu.Lock()
		defer tr.mu.Unlock()
		evs := tr.events[conn]
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i]["id"] != nil { // the reply to this frame
				return evs[i]
			}
		}
		t.Fatalf("%s: no reply", frame)
		return nil
	}
	players := []string{prefix + "a", prefix + "b"}
	for i, conn := range players {
		if err := hubs[i].Connect(ctx, &chatfly.ConnectRequest{ConnID: conn}); err != nil {
			t.Fatal(err)
		}
		recv(hubs[i], conn, `{"action":"hello","id":0,"name":"p`+strconv.Itoa(i)+`"}`)
		recv(hubs[i], conn, `{"action":"join","id":0,"room":"games"}`)
	}
	game := recv(hubs[0], players[0], `{"action":"game.start","id":1,"room":"games","game":"tally"}`)["game"].(map[string]any)
	gid := game["id"].(string)
	move := func(expect int) string {
		return `{"action":"game.move","id":2,"room":"games","game":"` + gid + `","move":{"expect":` + strconv.Itoa(expect) + `}}`
	}
	recv(hubs[1], players[1], `{"action":"game.accept","id":1,"room":"games","game":"`+gid+`"}`)

	versions := map[float64]int{}
	wins := 0
	for n := range rounds {
		// Both players move for state n at once, through different Hubs.
		var wg sync.WaitGroup
		replies := make([]map[string]any, 2)
		for i := range 2 {
			wg.Go(func() { replies[i] = recv(hubs[i], players[i], move(n)) })
		}
		wg.Wait()
		won := 0
		for _, r := range replies {
			switch {
			case r["type"] == "game.state":
				won++
				versions[r["game"].(map[string]any)["version"].(float64)]++
			case r["code"] != "illegal_move":
				t.Fatalf("round %d: %v", n, r)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d moves won version %d, want exactly one", n, won, n)
		}
		wins += won
	}
	// Moves that do not depend on the state: every one applies.
	var wg sync.WaitGroup
	const free = 20
	for i := range 2 {
		wg.Go(func() {
			for range free {
				if r := recv(hubs[i], players[i], move(-1)); r["type"] != "game.state" {
					t.Errorf("free move: %v", r)
				}
			}
		})
	}
	wg.Wait()
	it, err := env.Storage.Query(ctx, chatfly.Query{Partition: "room#games", Prefix: "game#" + gid})
	if err != nil || len(it) != 1 {
		t.Fatalf("game item: %v, %v", it, err)
	}
	var rec struct {
		State json.RawMessage `json:"state"`
	}
	_ = json.Unmarshal(it[0].Value, &rec)
	if got, want := string(rec.State), strconv.Itoa(rounds+2*free); got != want {
		t.Fatalf("tally = %s, want %s: a concurrent move was lost", got, want)
	}
	for v, n := range versions {
		if n != 1 {
			t.Fatalf("version %v was reported by %d moves", v, n)
		}
	}
}

// stressOptions are the Hub options of the concurrency scenarios: no rate
// limit, and a storage deadline far above the default, because they check
// what many Hubs racing on one Storage end up storing, not how fast one frame
// is handled (under the race detector on a loaded machine an emulator may take
// seconds per call, and a frame of roulette.next makes a dozen calls).
func stressOptions() *chatfly.Options {
	return &chatfly.Options{Rooms: chatfly.DefaultRooms(), RateLimit: chatfly.RateLimit{Count: -1}, StorageTimeout: 2 * time.Minute}
}
