package relaytest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/relay/memrelay"
	"github.com/chatfly/chatfly/relay/relaytest"
)

// bugEnv names the bug planted in the relay of TestBuggy, in a child
// process of TestSuiteCatchesBugs.
const bugEnv = "CHATFLY_RELAYTEST_BUG"

// bugs maps each planted bug to the case that must catch it.
var bugs = map[string]string{
	"never-gone":  "Gone/NoSubscriber",
	"duplicates":  "Deliver/Frame",
	"reorders":    "Order/OnePublisher",
	"drops-close": "Deliver/Close",
	"cuts-frames": "Deliver/LargeFrame",
	"cuts-conns":  "Deliver/ManyConns",
	"early-stop":  "Stop/WaitsForF",
}

// buggy is memrelay with one bug planted.
type buggy struct {
	*memrelay.Relay
	bug string

	mu   sync.Mutex
	held *chatfly.RelayMessage // reorders: the message waiting to go after the next
}

func (b *buggy) Publish(ctx context.Context, node string, m chatfly.RelayMessage) error {
	switch b.bug {
	case "never-gone":
		if err := b.Relay.Publish(ctx, node, m); !errors.Is(err, chatfly.ErrGone) {
			return err
		}
		return nil
	case "duplicates":
		_ = b.Relay.Publish(ctx, node, m)
	case "reorders":
		if string(m.Frame) == "probe" {
			break
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.held == nil {
			b.held = &m
			return nil
		}
		held := *b.held
		b.held = nil
		if err := b.Relay.Publish(ctx, node, m); err != nil {
			return err
		}
		return b.Relay.Publish(ctx, node, held)
	case "drops-close":
		m.Close, m.Reason = 0, ""
	case "cuts-frames":
		m.Frame = m.Frame[:min(len(m.Frame), 64<<10)]
	case "cuts-conns":
		m.Conns = m.Conns[:min(len(m.Conns), 1000)]
	}
	return b.Relay.Publish(ctx, node, m)
}

func (b *buggy) Subscribe(ctx context.Context, node string, f func(chatfly.RelayMessage)) (func() error, error) {
	stop, err := b.Relay.Subscribe(ctx, node, f)
	if err != nil || b.bug != "early-stop" {
		return stop, err
	}
	return func() error { go stop(); return nil }, nil
}

// TestBuggy runs the suite on memrelay, with the bug of bugEnv if set (then
// it must fail).
func TestBuggy(t *testing.T) {
	bug := os.Getenv(bugEnv)
	if _, ok := bugs[bug]; bug != "" && !ok {
		t.Fatalf("unknown bug %q", bug)
	}
	b := &buggy{Relay: memrelay.New(nil), bug: bug}
	relaytest.Run(t, relaytest.HarnessFunc(func(context.Context, *testing.T) (chatfly.Relay, error) {
		return b, nil
	}))
}

// TestSuiteCatchesBugs runs the case of TestBuggy meant to catch each bug in
// a child process, with the bug planted, and checks that it fails.
func TestSuiteCatchesBugs(t *testing.T) {
	if os.Getenv(bugEnv) != "" {
		t.Skip("in a child process")
	}
	if testing.Short() {
		t.Skip("runs the suite once per planted bug")
	}
	for bug, want := range bugs {
		t.Run(bug, func(t *testing.T) {
			t.Parallel()
			run := "^TestBuggy$/^" + strings.ReplaceAll(want, "/", "$/^") + "$"
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run="+run, "-test.v", "-test.timeout=2m")
			cmd.Env = append(os.Environ(), bugEnv+"="+bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a relay with bug %s", bug)
			}
			if !strings.Contains(string(out), "--- FAIL: TestBuggy/"+want+" ") {
				t.Fatalf("bug %s was not caught by %s; output:\n%s", bug, want, out)
			}
		})
	}
}
