package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSecrets is a Secrets Manager endpoint (its JSON protocol) holding
// one secret, that records the calls.
type fakeSecrets struct {
	id, value string

	mu    sync.Mutex
	calls []string // "<operation> <SecretId>"
}

func (f *fakeSecrets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct{ SecretId string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
	f.mu.Lock()
	f.calls = append(f.calls, op+" "+in.SecretId)
	value := f.value
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if op != "GetSecretValue" || in.SecretId != f.id {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"ARN": f.id, "Name": "TokenSecret", "SecretString": value})
}

func (f *fakeSecrets) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// The Lambda reads the token secret from Secrets Manager at init, with the
// SDK, once per environment (later events reuse the function); a missing
// secret or one too short fails the init (and the next event tries again).
func TestTokenSecret(t *testing.T) {
	const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:TokenSecret-AbCdEf"
	sm := &fakeSecrets{id: arn, value: strings.Repeat("k", 48)}
	srv := httptest.NewServer(sm)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", srv.URL)
	reset := func() {
		envMu.Lock()
		envHandler = nil
		envMu.Unlock()
	}
	t.Cleanup(reset)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	for _, bad := range []map[string]string{
		{envFunction: "message", envTable: "chat", envSecretID: arn + "-gone"},
		{envFunction: "message", envTable: "chat", envSecretID: arn + "-gone", envSecret: strings.Repeat("s", 32)}, // the id wins
	} {
		_, err := environmentHandler(context.Background(), env(bad))
		require.Error(t, err)
		assert.Contains(t, err.Error(), arn+"-gone")
	}
	sm.take()

	good := env(map[string]string{envFunction: "message", envTable: "chat", envSecretID: arn})
	h, err := environmentHandler(context.Background(), good)
	require.NoError(t, err)
	h2, err := environmentHandler(context.Background(), good)
	require.NoError(t, err)
	assert.Same(t, h, h2)
	assert.Equal(t, []string{"GetSecretValue " + arn}, sm.take(), "one read, at init")

	reset()
	sm.mu.Lock()
	sm.value = "short"
	sm.mu.Unlock()
	_, err = environmentHandler(context.Background(), good)
	assert.ErrorContains(t, err, envSecretID)
}
