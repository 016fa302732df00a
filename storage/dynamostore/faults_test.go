package dynamostore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/dynamostore"
	"github.com/chatfly/chatfly/storage/dynamostore/dynamotest"
)

// fastRetries retries quickly, for tests of the retry path.
var fastRetries = &dynamostore.Options{MaxAttempts: 4, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}

// TestOverloadIsRetriedThenUnavailable answers every request with an
// overload error, from a loopback server, and checks that the Store retries
// each call MaxAttempts times and then reports chatfly.ErrUnavailable.
func TestOverloadIsRetriedThenUnavailable(t *testing.T) {
	for _, c := range []struct {
		status int
		typ    string
	}{
		{400, "ThrottlingException"},
		{400, "ProvisionedThroughputExceededException"},
		{400, "RequestLimitExceeded"},
		{500, "InternalServerError"},
		{503, "ServiceUnavailable"},
	} {
		t.Run(c.typ, func(t *testing.T) {
			var requests atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				w.WriteHeader(c.status)
				fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"slow down"}`, c.typ)
			}))
			defer srv.Close()
			s, err := dynamostore.Open(newClient(t, srv.URL), "t", fastRetries)
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			k := chatfly.Key{Partition: "p", Sort: "s"}
			for name, call := range map[string]func() error{
				"Get":    func() error { _, err := s.Get(ctx, k); return err },
				"Put":    func() error { _, err := s.Put(ctx, chatfly.Item{Key: k}, chatfly.Always); return err },
				"Delete": func() error { return s.Delete(ctx, k, chatfly.Always) },
				"Query":  func() error { _, err := s.Query(ctx, chatfly.Query{Partition: "p"}); return err },
				"Add":    func() error { _, err := s.Add(ctx, k, 1, time.Time{}); return err },
				"Touch":  func() error { return s.Touch(ctx, k, time.Time{}, chatfly.Always) },
				"GetMany": func() error {
					_, err := s.GetMany(ctx, []chatfly.Key{k})
					return err
				},
				"WriteMany": func() error { return s.WriteMany(ctx, []chatfly.Write{{Item: chatfly.Item{Key: k}}}) },
			} {
				requests.Store(0)
				err := call()
				if !errors.Is(err, chatfly.ErrUnavailable) {
					t.Errorf("%s: %v, want ErrUnavailable", name, err)
				}
				if chatfly.CodeOf(err) != "unavailable" {
					t.Errorf("%s: CodeOf = %q", name, chatfly.CodeOf(err))
				}
				if !strings.Contains(err.Error(), c.typ) {
					t.Errorf("%s: error %q does not name the cause", name, err)
				}
				if n := requests.Load(); n != 4 {
					t.Errorf("%s: %d requests, want 4 (MaxAttempts)", name, n)
				}
			}
		})
	}
}

// TestThrottlingRecovers: a throttled request that succeeds on a retry is
// not an error.
func TestThrottlingRecovers(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if requests.Add(1) < 3 {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}`)
			return
		}
		fmt.Fprint(w, `{"Item":{"pk":{"S":"p"},"sk":{"S":"s"},"v":{"B":"aGk="},"n":{"N":"0"},"ver":{"N":"7"}}}`)
	}))
	defer srv.Close()
	s, err := dynamostore.Open(newClient(t, srv.URL), "t", fastRetries)
	if err != nil {
		t.Fatal(err)
	}
	it, err := s.Get(t.Context(), chatfly.Key{Partition: "p", Sort: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if string(it.Value) != "hi" || it.Version != 7 || requests.Load() != 3 {
		t.Errorf("got %+v after %d requests", it, requests.Load())
	}
}

// TestUnreachableEndpoint: a server that is gone gives ErrUnavailable after
// the retries, not a hang.
func TestUnreachableEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	s, err := dynamostore.Open(newClient(t, url), "t", fastRetries)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(t.Context(), chatfly.Item{Key: chatfly.Key{Partition: "p"}}, chatfly.Always)
	if !errors.Is(err, chatfly.ErrUnavailable) {
		t.Fatalf("Put to a closed endpoint: %v, want ErrUnavailable", err)
	}
	t.Log(err)
}

// TestContextCanceled: cancellation reaches the SDK and is reported as
// itself, not as an overload.
func TestContextCanceled(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s, err := dynamostore.Open(newClient(t, srv.URL), "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Get(ctx, chatfly.Key{Partition: "p"})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, chatfly.ErrUnavailable) {
		t.Fatalf("Get with an expiring context: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Get returned after %v", d)
	}
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	if _, err := s.Add(ctx, chatfly.Key{Partition: "p"}, 1, time.Time{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Add with a canceled context: %v, want context.Canceled", err)
	}
}

// TestTooLarge: an item over DynamoDB's 400 KB limit is refused before it is
// sent, and so are oversized keys; the largest value that fits is stored.
func TestTooLarge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, endpoint string) {
		calls := new(callCounter)
		client := newClient(t, endpoint, calls.middleware)
		s, err := dynamostore.Open(client, newTable(t, client), nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		k := chatfly.Key{Partition: "room#big", Sort: "msg#1"}
		for _, c := range []struct {
			name string
			f    func() error
		}{
			{"Value", func() error {
				_, err := s.Put(ctx, chatfly.Item{Key: k, Value: make([]byte, dynamostore.MaxItemSize)}, chatfly.Always)
				return err
			}},
			{"ValueIfAbsent", func() error {
				_, err := s.Put(ctx, chatfly.Item{Key: k, Value: make([]byte, dynamostore.MaxItemSize-50)}, chatfly.IfAbsent)
				return err
			}},
			{"Partition", func() error {
				_, err := s.Get(ctx, chatfly.Key{Partition: strings.Repeat("p", dynamostore.MaxPartitionBytes+1)})
				return err
			}},
			{"Sort", func() error {
				_, err := s.Add(ctx, chatfly.Key{Partition: "p", Sort: strings.Repeat("s", dynamostore.MaxSortBytes+1)}, 1, time.Time{})
				return err
			}},
		} {
			calls.reset()
			err := c.f()
			if !errors.Is(err, chatfly.ErrTooLarge) {
				t.Errorf("%s: %v, want ErrTooLarge", c.name, err)
			}
			if n := len(calls.snapshot()); n != 0 {
				t.Errorf("%s: sent %v, want nothing sent", c.name, calls.snapshot())
			}
		}
		// The largest value that the Store accepts fits in DynamoDB.
		big := bytes.Repeat([]byte{'x'}, dynamostore.MaxItemSize-200)
		if _, err := s.Put(ctx, chatfly.Item{Key: k, Value: big}, chatfly.Always); err != nil {
			t.Fatalf("Put of %d bytes: %v", len(big), err)
		}
		v, err := s.Put(ctx, chatfly.Item{Key: k, Value: big}, chatfly.Always)
		if err != nil {
			t.Fatalf("Put of %d bytes over the same: %v", len(big), err)
		}
		it, err := s.Get(ctx, k)
		if err != nil || !bytes.Equal(it.Value, big) || it.Version != v {
			t.Fatalf("Get: %v, %d bytes, version %d", err, len(it.Value), it.Version)
		}
	})
}

// TestTooLargeFromServer: DynamoDB's own refusal of an oversized item maps
// to chatfly.ErrTooLarge. minidyn does not enforce the limit, so this runs on
// dynalite only.
func TestTooLargeFromServer(t *testing.T) {
	client := dynamotest.Dynalite(t)
	table := newTable(t, client)
	_, err := client.PutItem(t.Context(), &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "p"},
			"sk": &types.AttributeValueMemberS{Value: "s"},
			"v":  &types.AttributeValueMemberB{Value: make([]byte, 401<<10)},
		},
	})
	if err == nil {
		t.Fatal("dynalite accepted a 401 KB item")
	}
	if mapped := dynamostore.MapError(t.Context(), err); !errors.Is(mapped, chatfly.ErrTooLarge) {
		t.Fatalf("mapError(%v) = %v, want ErrTooLarge", err, mapped)
	}
}

// TestBatchUnprocessed: a DynamoDB that processes one key or write per
// batch request, leaving the rest unprocessed (as it does under load):
// GetMany and WriteMany send the rest again until all is done, and give up
// with ErrUnavailable after MaxAttempts requests.
func TestBatchUnprocessed(t *testing.T) {
	var requests atomic.Int64
	var written []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		var in struct {
			RequestItems map[string]json.RawMessage
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			t.Errorf("request: %v", err)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		switch target := r.Header.Get("X-Amz-Target"); target {
		case "DynamoDB_20120810.BatchGetItem":
			var ka struct {
				Keys           []map[string]map[string]string
				ConsistentRead bool
			}
			if err := json.Unmarshal(in.RequestItems["t"], &ka); err != nil || !ka.ConsistentRead {
				t.Errorf("BatchGetItem %s: %v", in.RequestItems["t"], err)
			}
			first, _ := json.Marshal(map[string]any{"pk": ka.Keys[0]["pk"], "sk": ka.Keys[0]["sk"], "v": map[string]string{"B": "aGk="}, "n": map[string]string{"N": "0"}, "ver": map[string]string{"N": "9"}})
			rest, _ := json.Marshal(ka.Keys[1:])
			fmt.Fprintf(w, `{"Responses":{"t":[%s]},"UnprocessedKeys":{"t":{"Keys":%s,"ConsistentRead":true}}}`, first, rest)
		case "DynamoDB_20120810.BatchWriteItem":
			var reqs []json.RawMessage
			if err := json.Unmarshal(in.RequestItems["t"], &reqs); err != nil {
				t.Errorf("BatchWriteItem: %v", err)
			}
			written = append(written, string(reqs[0]))
			rest, _ := json.Marshal(reqs[1:])
			fmt.Fprintf(w, `{"UnprocessedItems":{"t":%s}}`, rest)
		default:
			t.Errorf("unexpected %s", target)
		}
	}))
	defer srv.Close()
	s, err := dynamostore.Open(newClient(t, srv.URL), "t", fastRetries)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	keys := []chatfly.Key{{Partition: "p", Sort: "a"}, {Partition: "p", Sort: "b"}, {Partition: "q", Sort: "c"}}
	items, err := s.GetMany(ctx, keys)
	if err != nil || requests.Load() != 3 {
		t.Fatalf("GetMany: %v after %d requests, want 3", err, requests.Load())
	}
	for i, it := range items {
		if it.Key != keys[i] || string(it.Value) != "hi" || it.Version != 9 {
			t.Errorf("GetMany: item %d = %+v", i, it)
		}
	}
	requests.Store(0)
	writes := []chatfly.Write{{Item: chatfly.Item{Key: keys[0], Value: []byte("x")}}, {Item: chatfly.Item{Key: keys[1]}, Delete: true}, {Item: chatfly.Item{Key: keys[2]}}}
	if err := s.WriteMany(ctx, writes); err != nil || requests.Load() != 3 || len(written) != 3 {
		t.Fatalf("WriteMany: %v after %d requests, %d writes applied; want 3 and 3", err, requests.Load(), len(written))
	}
	if !strings.Contains(written[0], "PutRequest") || !strings.Contains(written[1], "DeleteRequest") || !strings.Contains(written[2], `"c"`) {
		t.Errorf("writes applied: %q", written)
	}

	// Five keys take five requests: more than MaxAttempts (4).
	requests.Store(0)
	five := append(keys, chatfly.Key{Partition: "p", Sort: "d"}, chatfly.Key{Partition: "p", Sort: "e"})
	if _, err := s.GetMany(ctx, five); !errors.Is(err, chatfly.ErrUnavailable) || requests.Load() != 4 {
		t.Errorf("GetMany of 5: %v after %d requests, want ErrUnavailable after 4", err, requests.Load())
	}
	requests.Store(0)
	for i := range 2 {
		writes = append(writes, chatfly.Write{Item: chatfly.Item{Key: five[3+i]}})
	}
	if err := s.WriteMany(ctx, writes); !errors.Is(err, chatfly.ErrUnavailable) || requests.Load() != 4 {
		t.Errorf("WriteMany of 5: %v after %d requests, want ErrUnavailable after 4", err, requests.Load())
	}
}
