package main

import (
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
)

// The per-address connection limit holds on the serverless path: the Connect
// function keys it on the event's requestContext.identity.sourceIp (here the
// emulator's peer address), the upgrade beyond it gets 429 too_many, and the
// Disconnect function frees the place.
func TestConnectionsPerSourceIP(t *testing.T) {
	s := startStack(t, testConfig{hub: &chatfly.Options{AddressLimits: chatfly.AddressLimits{Connections: 2}}})
	dialFrom := func(ip, name string) (*client.Client, error) {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
		c, err := client.Dial(ctxFor(t), s.url, &client.Options{Name: name, HTTPClient: hc})
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
		}
		return c, err
	}
	first, err := dialFrom("127.0.0.2", "bot1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dialFrom("127.0.0.2", "bot2"); err != nil {
		t.Fatal(err)
	}
	_, err = dialFrom("127.0.0.2", "bot3")
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != http.StatusTooManyRequests { // API Gateway passes the status only
		t.Fatalf("third connection from one source IP: %v, want 429", err)
	}
	if _, err := dialFrom("127.0.0.3", "Ada"); err != nil {
		t.Fatalf("another source IP: %v", err)
	}

	// $disconnect frees the place (the emulator delivers it after the close).
	_ = first.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := dialFrom("127.0.0.2", "bot4")
		if err == nil {
			break
		}
		if !errors.As(err, &he) || he.StatusCode != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("after a disconnect: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
