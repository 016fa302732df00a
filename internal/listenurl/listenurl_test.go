package listenurl

import (
	"net"
	"testing"
)

func TestOf(t *testing.T) {
	for addr, want := range map[string]string{
		"[::]:8080":      "http://localhost:8080",
		"0.0.0.0:8080":   "http://localhost:8080",
		"127.0.0.1:9000": "http://127.0.0.1:9000",
		"[::1]:8081":     "http://[::1]:8081",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := Of("http", tcp); got != want {
			t.Errorf("Of(%s) = %s, want %s", addr, got, want)
		}
	}
}

// A real wildcard listener, as "-addr :0" makes it, gives a URL on localhost
// that one can dial.
func TestOfWildcardListener(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if got, want := Of("http", ln.Addr()), "http://localhost:"+port; got != want {
		t.Fatalf("Of(%s) = %s, want %s", ln.Addr(), got, want)
	}
}
