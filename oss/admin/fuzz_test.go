package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// FuzzAdminRequests sends arbitrary requests to the admin interface of an
// in-memory node: every answer is a clear one (never a 500, never a
// panic), a request refused changes nothing, and what a write that
// succeeded stored reads back.
func FuzzAdminRequests(f *testing.F) {
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close(context.Background()) })
	// The insecure handler: every request is the operator's, so every
	// endpoint is reached; without a rate limit, which a fuzzer's
	// thousands of requests a second would meet.
	hd, err := admin.NewHandler(n, &admin.Options{Insecure: true, RateLimit: -1})
	if err != nil {
		f.Fatal(err)
	}
	do := func(method, path string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Host = admin.DefaultAddr
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, req)
		return rec
	}
	// readBack checks that a GET of what a write stored answers the value
	// written.
	readBack := func(t *testing.T, path string, written []byte) {
		rec := do("GET", path, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s after a write: %d %s", path, rec.Code, rec.Body)
		}
		var o struct{ Value json.RawMessage }
		if err := json.Unmarshal(rec.Body.Bytes(), &o); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		sameValue(t, written, o.Value)
	}
	if rec := do("PUT", "/v1/heaps/f/roots/r", []byte(`{"balance": 1}`)); rec.Code != http.StatusOK {
		f.Fatalf("seed root: %d %s", rec.Code, rec.Body)
	}
	h, err := n.Heap(ctx, "f")
	if err != nil {
		f.Fatal(err)
	}
	var id string
	h.View(ctx, func(tx *oss.Tx) error {
		rid, err := tx.Root("r")
		id = rid.String()
		return err
	}, nil)
	methods := []string{"GET", "PUT", "POST", "DELETE"}
	f.Add(byte(2), "/v1/heaps/f/tx", []byte(`{"reads":[{"id":"`+id+`","version":1}],"writes":[{"id":"`+id+`","value":{"balance":2}}]}`))
	f.Add(byte(2), "/v1/heaps/f/tx", []byte(`{"writes":[{"id":"`+id+`","value":[1,2,{"a":null}]}],"roots":{"q":"`+id+`"}}`))
	f.Add(byte(2), "/v1/heaps/f/tx", []byte(`{"deletes":["`+id+`"]}`))
	f.Add(byte(2), "/v1/heaps/f/tx", []byte(`{"writes":[{"id":"not-a-uuid","value":1}]}`))
	f.Add(byte(2), "/v1/heaps/f/tx", []byte(`{"writes":[{"id":"`+id+`","value":1e400}]}`))
	f.Add(byte(1), "/v1/heaps/f/roots/r", []byte(`{"balance": 3}`))
	f.Add(byte(1), "/v1/heaps/f/roots/%00", []byte(`"x"`))
	f.Add(byte(0), "/v1/heaps/f/objects/"+id+"?fresh=1", []byte(nil))
	f.Add(byte(0), "/v1/heaps/f/digest", []byte(nil))
	f.Add(byte(1), "/v1/heaps/oss:catalog", []byte(nil))
	f.Add(byte(3), "/v1/heaps/g", []byte(nil))
	f.Add(byte(1), "/v1/heaps/f/roots/%ff", []byte(`1`))
	f.Add(byte(0), "/v1/heaps/f/roots/%c3%28", []byte(nil))
	f.Add(byte(1), "/v1/heaps/f/roots/deep", []byte(strings.Repeat("[", 40)+strings.Repeat("]", 40)))
	f.Add(byte(1), "/v1/heaps/f/roots/deep", []byte(strings.Repeat(`{"a":`, 32)+"1"+strings.Repeat("}", 32)))
	f.Add(byte(2), "/v1/heaps/f/tx", []byte(`{"writes":[{"id":"`+id+`","value":`+strings.Repeat("[", 33)+strings.Repeat("]", 33)+`}]}`))
	f.Add(byte(1), "/v1/heaps/f/roots/big", []byte(`18446744073709551616`))
	f.Add(byte(1), "/v1/heaps/f/roots/big", []byte(`[18446744073709551615, -9223372036854775808, 1.5e300, 1e-400, -0.0]`))
	f.Add(byte(1), "/v1/heaps/f/roots/trail", []byte(`{"a":1} {"b":2}`))
	f.Add(byte(1), "/v1/heaps/f/roots/s", []byte(`["\ud83d\ude00", "\ud800", "\u00e9\n"]`))
	f.Add(byte(1), "/v1/heaps/f/roots/dup", []byte(`{"a":1,"a":2}`))
	f.Add(byte(2), "/v1/heaps/f/tx", []byte(`{"writes":[{"id":"`+id+`","value":1},{"id":"`+id+`","value":2}]}`))
	f.Add(byte(2), "/v1/heaps/f/tx", []byte(`{"roots":{"\udcff":"`+id+`"}}`))
	f.Add(byte(2), "/v1/heaps/f/tx", []byte(`{"writez":[]}`))
	f.Fuzz(func(t *testing.T, m byte, path string, body []byte) {
		if _, err := url.ParseRequestURI(path); err != nil || strings.ContainsAny(path, " \r\n\t#") {
			return // not a request line: the server refuses it before the handler
		}
		u, _ := url.ParseRequestURI(path)
		if m%4 == 3 && strings.HasPrefix(u.Path, "/v1/heaps/f") {
			return // dropping the heap under test
		}
		if m%4 == 1 && strings.HasPrefix(u.Path, "/v1/heaps/") && !strings.HasPrefix(u.Path, "/v1/heaps/f/") {
			return // creating heaps: each is a raft group, and thousands exhaust the process
		}
		before, digest := h.Digest()
		method := methods[int(m)%len(methods)]
		rec := do(method, path, body)
		if rec.Code == http.StatusInternalServerError {
			t.Fatalf("%s %s %q: 500 %s", method, path, body, rec.Body)
		}
		if rec.Code >= 400 && rec.Code != http.StatusServiceUnavailable && rec.Code != http.StatusGatewayTimeout {
			// Refused: nothing of it may have been applied.
			if after, d := h.Digest(); after != before || d != digest {
				t.Fatalf("a refused request changed the heap: %s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
			}
		}
		if rec.Code != http.StatusOK {
			return
		}
		switch {
		case method == "PUT" && strings.HasPrefix(u.Path, "/v1/heaps/f/roots/"):
			readBack(t, path, body)
		case method == "POST" && u.Path == "/v1/heaps/f/tx":
			var txn admin.Txn
			if err := json.NewDecoder(bytes.NewReader(body)).Decode(&txn); err != nil {
				t.Fatalf("a transaction that does not decode committed: %q", body)
			}
			last := map[uuid.UUID][]byte{} // a later write of an object wins
			for _, w := range txn.Writes {
				last[w.ID] = w.Value
			}
			for id, v := range last {
				if !slices.Contains(txn.Deletes, id) {
					readBack(t, "/v1/heaps/f/objects/"+id.String(), v)
				}
			}
		}
	})
}

// FuzzClientAnswer: the client reads a node's answers off the network; an
// answer of any status and body gives the decoded value, or a
// *StatusError that carries the status and the node's message, or a
// decoding error; never a panic, and never a value from an error status.
func FuzzClientAnswer(f *testing.F) {
	type answer struct {
		code int
		body []byte
	}
	next := make(chan answer, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := <-next
		w.WriteHeader(a.code)
		w.Write(a.body)
	}))
	f.Cleanup(srv.Close)
	c, err := admin.NewClient(strings.TrimPrefix(srv.URL, "http://"), &admin.ClientOptions{Insecure: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(c.Close)
	f.Add(uint16(200), []byte(`{"id":"0190a0b0-c0d0-7e0f-8000-000000000001","version":3,"value":{"a":[1,2.5,null]},"index":9}`))
	f.Add(uint16(200), []byte(`{"id":"not a uuid"}`))
	f.Add(uint16(409), []byte(`{"error":"oss: transaction conflict on object x"}`))
	f.Add(uint16(504), []byte(`{"error":""}`))
	f.Add(uint16(503), []byte(`not json`))
	f.Add(uint16(404), []byte(nil))
	f.Fuzz(func(t *testing.T, code uint16, body []byte) {
		status := 200 + int(code)%400 // 200 to 599
		if status == http.StatusNoContent || status == http.StatusNotModified || status == 205 || status == 304 {
			return // answers that carry no body
		}
		next <- answer{status, body}
		o, err := c.Object(context.Background(), "h", uuid.Nil, false)
		var se *admin.StatusError
		switch {
		case status != http.StatusOK:
			if !errors.As(err, &se) || se.Code != status || se.Message == "" {
				t.Fatalf("status %d answered %+v %v", status, o, err)
			}
			var e struct{ Error string }
			if json.Unmarshal(body, &e) == nil && e.Error != "" && se.Message != e.Error {
				t.Fatalf("the node said %q, the client %q", e.Error, se.Message)
			}
			if errors.Is(err, oss.ErrConflict) != (status == http.StatusConflict) || errors.Is(err, oss.ErrCommitUnknown) != (status == http.StatusGatewayTimeout) {
				t.Fatalf("status %d maps to %v", status, err)
			}
		default:
			var want admin.Object
			if werr := json.Unmarshal(body, &want); (werr == nil) != (err == nil) {
				t.Fatalf("%q decodes with %v, the client says %v", body, werr, err)
			}
		}
	})
}

// sameValue checks that the JSON value read back is the one written:
// equal strings, keys and structure, and numbers of equal value (a float
// written as 1.0 reads back as 1).
func sameValue(t *testing.T, written, read []byte) {
	t.Helper()
	w, err := admin.ParseValue(written)
	if err != nil {
		t.Fatalf("a value the interface wrote does not parse: %q: %v", written, err)
	}
	r, err := admin.ParseValue(read)
	if err != nil {
		t.Fatalf("a value read back does not parse: %q: %v", read, err)
	}
	if !equalValues(w, r) {
		t.Fatalf("wrote %s, read back %s", written, read)
	}
}

func equalValues(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x.Cmp(y) == 0
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !equalValues(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, equalValues)
	}
	return a == b
}

func number(v any) (*big.Float, bool) {
	switch x := v.(type) {
	case int64:
		return new(big.Float).SetInt64(x), true
	case uint64:
		return new(big.Float).SetUint64(x), true
	case float64:
		return big.NewFloat(x), true
	}
	return nil, false
}
