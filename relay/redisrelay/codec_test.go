package redisrelay

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
)

func TestCodecRoundTrip(t *testing.T) {
	for _, m := range []chatfly.RelayMessage{
		{Conns: []string{"a.1"}, Frame: []byte(`{"type":"message"}`)},
		{Conns: []string{"a.1", "", "a.3"}, Frame: []byte("")},
		{Conns: []string{}, Close: chatfly.CloseReplaced, Reason: "replaced by a newer connection"},
		{Conns: []string{"a.1"}, Close: chatfly.ClosePolicy},
	} {
		got, err := decode(string(encode(m)))
		require.NoError(t, err)
		assert.Equal(t, m, got)
	}
	got, err := decode(string(encode(chatfly.RelayMessage{Close: chatfly.CloseNormal, Frame: []byte("x")})))
	require.NoError(t, err)
	assert.Nil(t, got.Frame, "a close carries no frame")
}

func FuzzDecode(f *testing.F) {
	f.Add(string(encode(chatfly.RelayMessage{Conns: []string{"a.1", "a.2"}, Frame: []byte("hi")})))
	f.Add(string(encode(chatfly.RelayMessage{Conns: []string{"a.1"}, Close: 4001, Reason: "replaced"})))
	f.Add("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")
	f.Fuzz(func(t *testing.T, p string) {
		m, err := decode(p)
		if err != nil {
			return
		}
		again, err := decode(string(encode(m)))
		require.NoError(t, err)
		assert.Equal(t, m.Conns, again.Conns)
		assert.Equal(t, m.Close, again.Close)
		assert.Equal(t, m.Reason, again.Reason)
		assert.Equal(t, string(m.Frame), string(again.Frame))
	})
}
