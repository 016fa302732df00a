package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
)

// The roulette and game scenarios measure features the floor does not
// have: they report "not available" against a server that answers
// unknown_action (the floor, or a chatfly without the feature), and
// otherwise their rate and latency with no ratio.

// rouletteMetrics and gameMetrics are what those scenarios report.
var rouletteMetrics = []metric{
	{"requests_per_sec", "joins + nexts per second", "%.0f"},
	{"matches_per_sec", "matches per second", "%.0f"},
	{"p50_ms", "p50 time to match (ms)", "%.2f"},
	{"p99_ms", "p99 time to match (ms)", "%.2f"},
	{"errors", "errors", "%.0f"},
	{"cpu_per_request_us", "server CPU/request (µs)", "%.1f"},
}

var gameMetrics = []metric{
	{"moves_per_sec", "moves per second", "%.0f"},
	{"games_per_sec", "games finished per second", "%.1f"},
	{"p50_ms", "p50 move round trip (ms)", "%.2f"},
	{"p99_ms", "p99 move round trip (ms)", "%.2f"},
	{"errors", "errors", "%.0f"},
	{"cpu_per_move_us", "server CPU/move (µs)", "%.1f"},
}

// available checks whether the server knows action.
func available(ctx context.Context, t *target, action string, fields any) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, t.url, &client.Options{Name: "probe", PingInterval: -1, EventBuffer: 16})
	if err != nil {
		return "", err
	}
	defer c.Close()
	_, err = c.Do(ctx, action, fields)
	if errors.Is(err, chatfly.ErrUnknownAction) {
		return "not available: the server answered unknown_action to " + action, nil
	}
	return "", nil
}

// window measures the server's CPU over the measured part of a closed-loop
// scenario: warm-up, then duration.
type window struct {
	from, to time.Time
	cpu      time.Duration // -1: unknown
}

func measureWindow(ctx context.Context, pids procs, warmup, duration time.Duration) *window {
	w := &window{from: time.Now().Add(warmup)}
	w.to = w.from.Add(duration)
	sleepUntil(ctx, w.from)
	c0 := pids.cpu()
	sleepUntil(ctx, w.to)
	c1 := pids.cpu()
	w.cpu = -1
	if c0 >= 0 && c1 >= 0 {
		w.cpu = c1 - c0
	}
	return w
}

// rouletteResult is the detail of one roulette run.
type rouletteResult struct {
	Clients  int     `json:"clients"`
	Requests int64   `json:"requests"`
	Matches  int64   `json:"matches"`
	Errors   int64   `json:"errors"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	CPUSec   float64 `json:"server_cpu_sec"`
}

// runRoulette: clients join the roulette, and as soon as they are matched
// press next, in a closed loop. Each request (join or next) is timed until
// its client is matched (a waiting client asks again by itself when the
// server's retry says).
func runRoulette(ctx context.Context, cfg *config, t *target) sample {
	if note, err := available(ctx, t, "roulette.leave", nil); err != nil || note != "" {
		return sample{Note: note, Error: errOr(err, "")}
	}
	d := newDialers(t.url, cfg.sources)
	type rc struct {
		c       *client.Client
		matched chan struct{}
	}
	clients := make([]*rc, cfg.rouletteClients)
	for i := range clients {
		c, err := client.Dial(ctx, t.url, &client.Options{Name: "r" + strconv.Itoa(i), HTTPClient: d.client(), PingInterval: -1, EventBuffer: 64})
		if err != nil {
			return failed(err)
		}
		r := &rc{c: c, matched: make(chan struct{}, 8)}
		clients[i] = r
		go func() {
			for ev := range c.Events() {
				if ev.Type == "roulette.matched" {
					select {
					case r.matched <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	defer func() {
		for _, r := range clients {
			r.c.Close()
		}
	}()

	var (
		mu                        sync.Mutex
		lat                       histogram
		requests, matches, errs   atomic.Int64
		wg                        sync.WaitGroup
		stop                      = make(chan struct{})
		windowStart, windowFinish = time.Now().Add(cfg.warmup), time.Now().Add(cfg.warmup + cfg.featureDuration)
	)
	in := func(t time.Time) bool { return !t.Before(windowStart) && t.Before(windowFinish) }
	for _, r := range clients {
		wg.Go(func() {
			join := r.c.RouletteJoin
			for {
				select {
				case <-stop:
					return
				default:
				}
				for len(r.matched) > 0 {
					<-r.matched // stale
				}
				t0 := time.Now()
				cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				res, err := join(cctx)
				ok := err == nil && res.Matched
				if err == nil && !ok {
					select {
					case <-r.matched:
						ok = true
					case <-stop:
					case <-cctx.Done():
					}
				}
				cancel()
				if in(t0) {
					requests.Add(1)
					if ok {
						matches.Add(1)
						mu.Lock()
						lat.record(time.Since(t0))
						mu.Unlock()
					} else {
						select {
						case <-stop: // cut short by the end of the run
						default:
							errs.Add(1) // an error, or no match within 15 s
						}
					}
				}
				join = r.c.RouletteNext
			}
		})
	}
	w := measureWindow(ctx, t.pids, cfg.warmup, cfg.featureDuration)
	close(stop)
	wg.Wait()
	secs := cfg.featureDuration.Seconds()
	mu.Lock()
	defer mu.Unlock()
	r := &rouletteResult{Clients: len(clients), Requests: requests.Load(), Matches: matches.Load() / 2, Errors: errs.Load(),
		P50ms: ms(lat.quantile(0.5)), P99ms: ms(lat.quantile(0.99)), MaxMs: ms(time.Duration(lat.max)), CPUSec: w.cpu.Seconds()}
	m := map[string]float64{
		"requests_per_sec": float64(r.Requests) / secs, "matches_per_sec": float64(r.Matches) / secs,
		"p50_ms": r.P50ms, "p99_ms": r.P99ms, "errors": float64(r.Errors),
	}
	if w.cpu >= 0 && r.Requests > 0 {
		m["cpu_per_request_us"] = float64(w.cpu.Microseconds()) / float64(r.Requests)
	}
	h := lat
	return sample{Metrics: m, Detail: r, hist: &h}
}

// gameResult is the detail of one game run.
type gameResult struct {
	Pairs  int     `json:"pairs"`
	Moves  int64   `json:"moves"`
	Games  int64   `json:"games"`
	Errors int64   `json:"errors"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	CPUSec float64 `json:"server_cpu_sec"`
}

// gameState is the part of a game.state frame the scenario reads.
type gameState struct {
	Game struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Turn   []int  `json:"turn"`
	} `json:"game"`
}

// runGame: pairs of clients, each pair in its own room, play tic-tac-toe
// games back to back, every move as soon as it is the player's turn; each
// move is timed until its game.state reply.
func runGame(ctx context.Context, cfg *config, t *target) sample {
	if note, err := available(ctx, t, "game.list", map[string]any{"room": roomName(cfg.prefix, 0)}); err != nil || note != "" {
		return sample{Note: note, Error: errOr(err, "")}
	}
	d := newDialers(t.url, cfg.sources)
	var (
		mu                   sync.Mutex
		lat                  histogram
		moves, games, errs   atomic.Int64
		all                  []*client.Client
		wg                   sync.WaitGroup
		stop                 = make(chan struct{})
		windowFrom, windowTo = time.Now().Add(cfg.warmup), time.Now().Add(cfg.warmup + cfg.featureDuration)
	)
	in := func(t time.Time) bool { return !t.Before(windowFrom) && t.Before(windowTo) }
	defer func() {
		for _, c := range all {
			c.Close()
		}
	}()
	type player struct {
		c    *client.Client
		room string
	}
	pairs := make([][2]player, cfg.gamePairs)
	for i := range pairs {
		room := roomName(cfg.prefix, i)
		for s := range 2 {
			c, err := client.Dial(ctx, t.url, &client.Options{Name: "g" + strconv.Itoa(2*i+s), HTTPClient: d.client(), PingInterval: -1, EventBuffer: 64})
			if err != nil {
				return failed(err)
			}
			all = append(all, c)
			go func() {
				for range c.Events() { // the opponent's states, presence
				}
			}()
			if _, err := c.Join(ctx, room, 0); err != nil {
				return failed(fmt.Errorf("join %s: %w", room, err))
			}
			pairs[i][s] = player{c: c, room: room}
		}
	}
	do := func(p player, action string, fields map[string]any) (gameState, error) {
		var st gameState
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		fields["room"] = p.room
		ev, err := p.c.Do(cctx, action, fields)
		if err != nil {
			return st, err
		}
		return st, json.Unmarshal(ev.Raw, &st)
	}
	for _, pr := range pairs {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				st, err := do(pr[0], "game.start", map[string]any{"game": "tictactoe", "invite": []string{pr[1].c.Welcome().Session}})
				if err == nil {
					st, err = do(pr[1], "game.accept", map[string]any{"game": st.Game.ID})
				}
				if err != nil {
					errs.Add(1)
					sleepUntil(ctx, time.Now().Add(100*time.Millisecond))
					continue
				}
				free := rand.Perm(9)
				for st.Game.Status == "playing" && len(st.Game.Turn) == 1 && len(free) > 0 {
					seat := st.Game.Turn[0] % 2
					cell := free[0]
					free = free[1:]
					t0 := time.Now()
					next, err := do(pr[seat], "game.move", map[string]any{"game": st.Game.ID, "move": map[string]int{"cell": cell}})
					if err != nil {
						if in(t0) {
							errs.Add(1)
						}
						break
					}
					if in(t0) {
						moves.Add(1)
						mu.Lock()
						lat.record(time.Since(t0))
						mu.Unlock()
					}
					st = next
				}
				if st.Game.Status == "over" && in(time.Now()) {
					games.Add(1)
				}
			}
		})
	}
	w := measureWindow(ctx, t.pids, cfg.warmup, cfg.featureDuration)
	close(stop)
	wg.Wait()
	secs := cfg.featureDuration.Seconds()
	mu.Lock()
	defer mu.Unlock()
	r := &gameResult{Pairs: len(pairs), Moves: moves.Load(), Games: games.Load(), Errors: errs.Load(),
		P50ms: ms(lat.quantile(0.5)), P99ms: ms(lat.quantile(0.99)), MaxMs: ms(time.Duration(lat.max)), CPUSec: w.cpu.Seconds()}
	m := map[string]float64{
		"moves_per_sec": float64(r.Moves) / secs, "games_per_sec": float64(r.Games) / secs,
		"p50_ms": r.P50ms, "p99_ms": r.P99ms, "errors": float64(r.Errors),
	}
	if w.cpu >= 0 && r.Moves > 0 {
		m["cpu_per_move_us"] = float64(w.cpu.Microseconds()) / float64(r.Moves)
	}
	h := lat
	return sample{Metrics: m, Detail: r, hist: &h}
}
