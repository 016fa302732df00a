package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/chatfly/chatfly"
)

// refEvent mirrors the fields decodeLine fills, for decoding with
// encoding/json as the reference.
type refEvent struct {
	Type    string         `json:"type"`
	Room    string         `json:"room"`
	Seq     int64          `json:"seq"`
	From    chatfly.Member `json:"from"`
	Text    string         `json:"text"`
	TS      int64          `json:"ts"`
	System  bool           `json:"system"`
	Event   string         `json:"event"`
	Member  chatfly.Member `json:"member"`
	Members int64          `json:"members"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
}

func (r refEvent) String() string { return fmt.Sprintf("%+v", struct{ refEvent }{r}) }

func toRef(ev *Event, m *lineMeta) refEvent {
	return refEvent{ev.Type, ev.Room, ev.Seq, ev.From, ev.Text, ev.TS, ev.System, ev.Event, ev.Member, int64(ev.Members), m.code, m.message}
}

func TestDecodeLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want refEvent
		id   string
	}{
		{`{"type":"message","room":"lobby","seq":44,"from":{"id":"k3J9","name":"Ada"},"text":"hello","ts":1767225600000}`,
			refEvent{Type: "message", Room: "lobby", Seq: 44, From: chatfly.Member{ID: "k3J9", Name: "Ada"}, Text: "hello", TS: 1767225600000}, ""},
		{` { "type" : "presence" , "event":"leave","member":{"name":"Lin","id":"Q","x":[1,{"y":null}]},"members":0 } `,
			refEvent{Type: "presence", Event: "leave", Member: chatfly.Member{ID: "Q", Name: "Lin"}}, ""},
		{`{"type":"error","id":5,"code":"not_member","message":"join the room first"}`,
			refEvent{Type: "error", Code: "not_member", Message: "join the room first"}, "5"},
		{`{"type":"pong","id":"p1","ts":-1}`, refEvent{Type: "pong", TS: -1}, `"p1"`},
		{`{"type":"x","id":null}`, refEvent{Type: "x"}, ""},
		// Escapes, surrogate pairs and invalid UTF-8 take the slow path.
		{`{"type":"m","text":"a\"b\\c\/\n\u00e9\ud83d\ude00","\u0074ext2":1}`, refEvent{Type: "m", Text: "a\"b\\c/\né😀"}, ""},
		{"{\"type\":\"m\",\"text\":\"\xff\xfe ok\"}", refEvent{Type: "m", Text: "\ufffd\ufffd ok"}, ""},
		{`{"\u0074ype":"escaped key"}`, refEvent{Type: "escaped key"}, ""},
		// Known keys with other types are ignored; the rest is kept.
		{`{"type":"joined","id":3,"room":{"id":"lobby","seq":4},"members":[{"id":"a","name":"A"}],"seq":1.5,"ts":1e3,"system":"yes","from":"x"}`,
			refEvent{Type: "joined"}, "3"},
		{`{"type":"m","seq":9223372036854775807,"ts":-9223372036854775808}`, refEvent{Type: "m", Seq: 1<<63 - 1, TS: -1 << 63}, ""},
		{`{"type":"m","seq":9223372036854775808,"ts":99999999999999999999}`, refEvent{Type: "m"}, ""},
		{`{"type":"a","type":"b","from":{"id":"1"},"from":{"name":"N"},"seq":1,"seq":null}`,
			refEvent{Type: "b", From: chatfly.Member{ID: "1", Name: "N"}, Seq: 1}, ""},
		{`null`, refEvent{}, ""},
		{`{}`, refEvent{}, ""},
	} {
		var ev Event
		var m lineMeta
		if err := decodeLine([]byte(tc.in), &ev, &m, newInterner()); err != nil {
			t.Errorf("decodeLine(%s): %v", tc.in, err)
			continue
		}
		if got := toRef(&ev, &m); got != tc.want || string(m.id) != tc.id {
			t.Errorf("decodeLine(%s)\n got %v id %s\nwant %v id %s", tc.in, got, m.id, tc.want, tc.id)
		}
	}
}

func TestDecodeLineErrors(t *testing.T) {
	for _, in := range []string{
		``, ` `, `{`, `}`, `{"type"}`, `{"type":}`, `{"type":"x",}`, `{"type":"x"} x`, `{"type":"x"}{}`,
		`{type:"x"}`, `{'type':'x'}`, `{"type":"x\q"}`, `{"type":"x\u12"}`, `{"type":"x\u12g4"}`, "{\"type\":\"a\tb\"}",
		`{"seq":01}`, `{"seq":-}`, `{"seq":1.}`, `{"seq":1e}`, `{"seq":.5}`, `{"seq":+1}`, `{"x":tru}`, `{"x":nul}`,
		`{"x":[1,]}`, `{"x":[1 2]}`, `{"x":{"a" 1}}`, `{"x":{1:2}}`, `[]`, `"str"`, `5`, `true`,
		`{"type":"unterminated`, `{"from":{"id":"a",}}`,
		strings.Repeat(`{"x":[`, maxDepth) + strings.Repeat(`]}`, maxDepth),
	} {
		var ev Event
		var m lineMeta
		if err := decodeLine([]byte(in), &ev, &m, nil); err == nil {
			t.Errorf("decodeLine(%.40q) = nil, want an error", in)
		}
	}
}

// foldedKey reports whether data has an object key, at any depth, that
// encoding/json would match to one of refEvent's fields case-insensitively
// but not exactly. Those are the only lines where decodeLine (exact
// matching) and encoding/json may legitimately differ.
func foldedKey(data []byte) bool {
	known := []string{"type", "room", "seq", "from", "text", "ts", "system", "event", "member", "members", "code", "message", "id", "name"}
	d := json.NewDecoder(bytes.NewReader(data))
	var stack []bool // true for objects
	expectKey := false
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, true)
				expectKey = true
				continue
			case '[':
				stack = append(stack, false)
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if expectKey {
				for _, k := range known {
					if v != k && strings.EqualFold(v, k) {
						return true
					}
				}
				expectKey = false
				continue
			}
		}
		expectKey = len(stack) > 0 && stack[len(stack)-1]
	}
}

// FuzzDecodeLine checks decodeLine against encoding/json: it accepts only
// valid JSON, and whenever encoding/json decodes a line without error,
// decodeLine gives the same field values.
func FuzzDecodeLine(f *testing.F) {
	for _, s := range []string{
		`{"type":"message","room":"lobby","seq":44,"from":{"id":"k3J9","name":"Ada"},"text":"hello","ts":1767225600000}`,
		`{"type":"presence","room":"lobby","event":"join","member":{"id":"k3J9","name":"Ada"},"members":2}`,
		`{"type":"error","id":5,"code":"not_member","message":"join the room first"}`,
		`{"type":"joined","id":3,"room":{"id":"lobby"},"members":[{"id":"a","name":"A"}],"history":[]}`,
		`{"type":"m","text":"a\"b\\c\/\n\u00e9\ud83d\ude00"}`,
		"{\"text\":\"\xff\"}",
		`{"Type":"x","SEQ":1}`,
		`{"seq":-0,"ts":1e2,"members":1.0}`,
		`null`, `[]`, `{"a":[true,false,null,{}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev Event
		var m lineMeta
		err := decodeLine(data, &ev, &m, newInterner())
		if err == nil && !json.Valid(data) {
			t.Fatalf("decodeLine accepted invalid JSON %q", data)
		}
		var ref refEvent
		if json.Unmarshal(data, &ref) != nil || foldedKey(data) {
			return
		}
		if err != nil {
			t.Fatalf("decodeLine(%q): %v; encoding/json accepts it", data, err)
		}
		if got := toRef(&ev, &m); !reflect.DeepEqual(got, ref) {
			t.Fatalf("decodeLine(%q)\n got %v\nwant %v", data, got, ref)
		}
	})
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s/", "\n\r\t\x00\x1f\x7f", "é😀\u2028", "bad \xff\xfe utf8 \xe2\x82", "<&>"} {
		checkAppendString(t, s)
	}
}

func checkAppendString(t *testing.T, s string) {
	t.Helper()
	b := appendString(nil, s)
	var got, want string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("appendString(%q) = %s: %v", s, b, err)
	}
	ref, _ := json.Marshal(s)
	json.Unmarshal(ref, &want)
	if got != want {
		t.Fatalf("appendString(%q) decodes to %q, encoding/json gives %q", s, got, want)
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("hello \"world\"\n")
	f.Add("\xff\x00é")
	f.Fuzz(checkAppendString)
}

func TestFrame(t *testing.T) {
	fr := newFrame("send", 7).str("room", "lobby").str("text", "a\"b").int("after", -3).members([]byte(`{"x":[1],"y":{}}`)).members([]byte(`{}`))
	want := `{"action":"send","id":7,"room":"lobby","text":"a\"b","after":-3,"x":[1],"y":{}}`
	if got := string(fr.bytes()); got != want {
		t.Errorf("frame = %s\nwant %s", got, want)
	}
	fr.release()
	if got := string(newFrame("typing", 0).bytes()); got != `{"action":"typing"}` {
		t.Errorf("frame without id = %s", got)
	}
}

func TestParseID(t *testing.T) {
	for in, want := range map[string]int64{`1`: 1, `"42"`: 42, `0`: 0, `-1`: 0, `"p1"`: 0, `1.0`: 0, `"`: 0, `{}`: 0, `1234567890123456789`: 0} {
		if got, ok := parseID([]byte(in)); got != want || ok != (want > 0) {
			t.Errorf("parseID(%s) = %d, %v; want %d", in, got, ok, want)
		}
	}
}

func TestInterner(t *testing.T) {
	in := newInterner()
	a := in.str([]byte("lobby"))
	if b := in.str([]byte("lobby")); b != a || len(in.m) != 1 {
		t.Errorf("not interned")
	}
	for i := range internMaxSize + 10 {
		in.str(fmt.Appendf(nil, "k%d", i))
	}
	if len(in.m) > internMaxSize {
		t.Errorf("interner grew to %d", len(in.m))
	}
	if allocs := testing.AllocsPerRun(100, func() { in.str([]byte("k5000")) }); allocs != 0 {
		t.Errorf("lookup of an interned string: %v allocs", allocs)
	}
}

// benchFrame is a frame the server coalesced from 8 events: 6 messages, a
// presence and a typing event, as a busy room produces.
var benchFrame = func() []byte {
	var lines []string
	for i := range 6 {
		lines = append(lines, fmt.Sprintf(`{"type":"message","room":"lobby","seq":%d,"from":{"id":"k3J9xQ2m","name":"Ada"},"text":"message number %d with a little text in it","ts":1767225600%03d}`, 100+i, i, i))
	}
	lines = append(lines,
		`{"type":"presence","room":"lobby","event":"join","member":{"id":"Qx0aZ81","name":"Lin"},"members":12}`,
		`{"type":"typing","room":"lobby","member":{"id":"Qx0aZ81","name":"Lin"}}`)
	return []byte(strings.Join(lines, "\n"))
}()

// BenchmarkDecodeFrame measures the read loop's work for one frame: copy
// out of the read buffer, split, decode and route 8 events (into a channel
// that the benchmark drains).
func BenchmarkDecodeFrame(b *testing.B) {
	c := &Client{events: make(chan Event, 16), closing: make(chan struct{}), pending: map[int64]chan<- reply{}}
	in := newInterner()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchFrame)))
	for b.Loop() {
		if err := c.dispatch(bytes.Clone(benchFrame), in); err != nil {
			b.Fatal(err)
		}
		for range 8 {
			<-c.events
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*8), "ns/event")
}

// BenchmarkDecodeFrameEncodingJSON is the same work with encoding/json, for
// comparison.
func BenchmarkDecodeFrameEncodingJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchFrame)))
	for b.Loop() {
		frame := bytes.Clone(benchFrame)
		for line := range bytes.SplitSeq(frame, []byte{'\n'}) {
			var ev refEvent
			if err := json.Unmarshal(line, &ev); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkSendFrame(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		f := newFrame("send", 12345).str("room", "lobby").str("text", "message number 1 with a little text in it")
		_ = f.bytes()
		f.release()
	}
}
