package rules

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/chatfly/chatfly"
)

func TestErrors(t *testing.T) {
	for _, tt := range []struct {
		err  error
		base *chatfly.Error
	}{
		{Illegal("cell 4 is taken"), chatfly.ErrIllegalMove},
		{NotYourTurn("wait"), chatfly.ErrNotYourTurn},
		{GameOver(), chatfly.ErrGameOver},
		{NotPlayer(3), chatfly.ErrNotPlayer},
	} {
		if !errors.Is(tt.err, chatfly.ErrIllegalMove) || !errors.Is(tt.err, tt.base) {
			t.Errorf("%v: want it to wrap %v and ErrIllegalMove", tt.err, tt.base)
		}
		if chatfly.CodeOf(tt.err) != tt.base.Code {
			t.Errorf("%v: code %q, want %q", tt.err, chatfly.CodeOf(tt.err), tt.base.Code)
		}
		var e *chatfly.Error
		if !errors.As(tt.err, &e) || e.Message == "" || tt.err.Error() != e.Error() {
			t.Errorf("%v: want a *chatfly.Error with a message", tt.err)
		}
	}
	if err := BadState("x", nil); chatfly.CodeOf(err) != chatfly.ErrInternal.Code {
		t.Errorf("BadState code %q", chatfly.CodeOf(err))
	}
	if CheckSeat(-1, 2) != nil || CheckSeat(1, 2) != nil || CheckSeat(2, 2) == nil || CheckSeat(-2, 2) == nil {
		t.Error("CheckSeat")
	}
}

func TestFields(t *testing.T) {
	good := map[string]string{
		`{"a":1}`:              "1",
		` { "a" : "x" } `:      `"x"`,
		`{"a":{"b":[1,2]}}`:    `{"b":[1,2]}`,
		"{\"a\":1}\n":          "1",
		`{"b":true,"a":null} `: "null",
	}
	for in, want := range good {
		f, err := Fields(json.RawMessage(in), "a", "b")
		if err != nil || string(f["a"]) != want {
			t.Errorf("Fields(%s) = %q, %v; want a=%s", in, f["a"], err, want)
		}
	}
	for _, in := range []string{``, ` `, `null`, `[]`, `"a"`, `1`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1`, `{"a":1}}`,
		`{"a":1} 2`, `{"a":1}{}`, `{"c":1}`, `{"A":1}`, `{"a":1,"a":2}`, `{1:2}`} {
		if _, err := Fields(json.RawMessage(in), "a", "b"); !errors.Is(err, chatfly.ErrIllegalMove) {
			t.Errorf("Fields(%q) error %v, want an illegal move", in, err)
		}
	}
}

func TestValues(t *testing.T) {
	for in, want := range map[string]int{`0`: 0, `8`: 8, `-3`: -3} {
		if n, ok := Int(json.RawMessage(in)); !ok || n != want {
			t.Errorf("Int(%s) = %d, %v", in, n, ok)
		}
	}
	for _, in := range []string{``, `null`, `1.5`, `1e3`, `"1"`, `true`, `[1]`, `99999999999999999999`} {
		if _, ok := Int(json.RawMessage(in)); ok {
			t.Errorf("Int(%s) ok", in)
		}
	}
	if s, ok := String(json.RawMessage(`"a\u00e9"`)); !ok || s != "aé" {
		t.Errorf("String = %q, %v", s, ok)
	}
	for _, in := range []string{``, `null`, `1`, `["a"]`, `{"a":1}`} {
		if _, ok := String(json.RawMessage(in)); ok {
			t.Errorf("String(%s) ok", in)
		}
	}
}
