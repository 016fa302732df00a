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

// RunHubTests runs scenarios of the chatfly Hub over a Storage made by h:
// several Hubs share one Storage, as several servers or Lambda invocations
// share a DynamoDB table, and the features that rely on the Storage's
// atomic primitives must hold under concurrency. Every Storage should pass
// them as well as [RunConformanceTests].
func RunHubTests(t *testing.T, h Harness) {
	t.Run("Roulette/Concurrent", func(t *testing.T) { testRouletteConcurrent(t, h, 200, 6) })
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
		hubs[i] = chatfly.New(env.Storage, tr, &chatfly.Options{RateLimit: chatfly.RateLimit{Count: -1}})
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
