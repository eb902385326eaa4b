package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ipki "github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"go.uber.org/goleak"
)

// rawClient is an HTTP client of srv presenting the named user's
// certificate, which does not retry: it shows each answer as sent.
func rawClient(t *testing.T, p *testPKI, name string) *http.Client {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: p.tlsConfig(t, name), MaxIdleConnsPerHost: 16}}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// frozen is a clock that stands still: buckets gain nothing, so what a
// test counts does not depend on how fast the machine runs it.
func frozen() func() time.Time {
	at := time.Now()
	return func() time.Time { return at }
}

// code sends a request and returns the status of its answer (0, and the
// test failed, if none came); any goroutine may call it.
func code(t *testing.T, hc *http.Client, method, url string, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// One identity that floods the interface (the status, which asks every
// member) gets 429s once its burst is spent, and another identity's
// requests in the same window are all served. Before, every request was
// served: one certificate's 1,800 status requests a second made puts 4×
// slower, and a connection flood timed the operator's status out.
func TestFloodingIdentityIsRefusedOthersServed(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	p := newPKI(t)
	p.issue(t, "bob", ipki.RoleAdmin, time.Now(), time.Hour)
	n := startNode(t)
	o := p.serverOptions(t)
	o.Now = frozen()
	o.RateBurst = 200 // 20 statuses: a status takes 10 tokens
	srv := serve(t, n, o)
	flood, other := rawClient(t, p, "admin"), rawClient(t, p, "bob")

	var served, refused atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				switch c := code(t, flood, "GET", srv.URL()+"/v1/status", ""); c {
				case http.StatusOK:
					served.Add(1)
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					t.Errorf("a flooding request: %d", c)
				}
			}
		})
	}
	for i := range 20 { // 10 statuses and 10 puts: within bob's burst, in the same window
		url, method, body := srv.URL()+"/v1/status", "GET", ""
		if i%2 == 1 {
			url, method, body = srv.URL()+"/v1/heaps/h/roots/r"+strconv.Itoa(i), "PUT", `{"i": 1}`
		}
		if c := code(t, other, method, url, body); c != http.StatusOK {
			t.Errorf("bob's %s %s while admin floods: %d, want 200", method, url, c)
		}
	}
	wg.Wait()
	if served.Load() != 20 || refused.Load() != 20 {
		t.Fatalf("40 statuses of one identity with a burst of 20 and no time passing: %d served, %d refused; want 20 and 20",
			served.Load(), refused.Load())
	}
}

// A request refused for its identity's rate carries Retry-After and the
// node's state rate-limited, and did nothing: a put refused wrote no
// root, a transaction refused committed nothing, a heap's creation
// refused created none. The refusals are counted in
// oss_admin_rate_limited_total.
func TestRateLimitedRequestDidNothing(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	p := newPKI(t)
	p.issue(t, "bob", ipki.RoleAdmin, time.Now(), time.Hour)
	n := startNode(t)
	if _, err := n.CreateHeap(ctx, "h", nil); err != nil {
		t.Fatal(err)
	}
	o := p.serverOptions(t)
	o.Now = frozen()
	o.RateBurst = 2
	o.RateLimit = 0.25 // a token every 4 s, were the clock to move
	srv := serve(t, n, o)
	hc := rawClient(t, p, "admin")
	for range 2 {
		if c := code(t, hc, "GET", srv.URL()+"/v1/heaps", ""); c != http.StatusOK {
			t.Fatalf("within the burst: %d", c)
		}
	}
	before := stateOf(t, n, "h")
	for _, r := range []struct{ method, path, body string }{
		{"PUT", "/v1/heaps/h/roots/r", `{"a": 1}`},
		{"POST", "/v1/heaps/h/tx", `{"writes": [{"id": "0190f0a0-0000-7000-8000-000000000001", "value": 1}]}`},
		{"PUT", "/v1/heaps/new", ""},
	} {
		req, _ := http.NewRequest(r.method, srv.URL()+r.path, strings.NewReader(r.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("%s %s over the limit: %d %s, want 429", r.method, r.path, resp.StatusCode, msg)
		}
		if ra := resp.Header.Get("Retry-After"); ra != "4" {
			t.Errorf("%s %s: Retry-After %q, want 4 (a token every 4 s)", r.method, r.path, ra)
		}
		if st := resp.Header.Get("X-Oss-Node-State"); st != "rate-limited" {
			t.Errorf("%s %s: X-Oss-Node-State %q, want rate-limited", r.method, r.path, st)
		}
		if !bytes.Contains(msg, []byte("nothing of this request was done")) || !bytes.Contains(msg, []byte("--http-rate")) {
			t.Errorf("%s %s: %s; want it to say nothing was done and name the limit", r.method, r.path, msg)
		}
	}
	if after := stateOf(t, n, "h"); after != before {
		t.Fatalf("refused requests changed the node: %+v, then %+v", before, after)
	}
	if _, err := n.Heap(ctx, "new"); !errors.Is(err, oss.ErrNoHeap) {
		t.Fatalf("the heap a refused PUT named: %v, want ErrNoHeap", err)
	}
	// Another identity reads the count of refusals.
	resp, err := rawClient(t, p, "bob").Get(srv.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if want := fmt.Sprintf("oss_admin_rate_limited_total{node=%q} 3\n", n.Name()); !bytes.Contains(b, []byte(want)) {
		t.Fatalf("/metrics lacks %q", want)
	}
}

// limitedServer is a node's stand-in that refuses its first refusals
// requests with 429 (rate-limited, Retry-After: 1) and answers the
// rest with an empty status; it counts the requests it got.
func limitedServer(t *testing.T, refusals int64) (addr string, got *atomic.Int64) {
	t.Helper()
	got = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got.Add(1) <= refusals {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("X-Oss-Node-State", "rate-limited")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error": "the admin certificate \"admin\" is over its limit of 1 requests a second (a burst of 1) on this node's admin interface, so nothing of this request was done: retry after 1s (the limit is ossd run's --http-rate and --http-burst)"}`)
			return
		}
		io.WriteString(w, `{"Node": "n1", "ID": "0190f0a0-0000-7000-8000-000000000001", "Index": 7}`)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), got
}

// The client (and so the CLI) reads a 429 as what it is: the node did
// nothing of the request because the user's identity is over its rate
// there. It asks the same node again after the Retry-After the node
// gave, at most twice more, then goes on to the next node, and if none
// takes it fails with an error that matches admin.ErrRateLimited (never
// an unknown outcome) and says how often it asked. Before, a 429 was an
// error of no kind, not retried, and a write's refusal did not say
// whether it had been done.
func TestClientOnRateLimit(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	newClient := func(addr string) *admin.Client {
		c, err := admin.NewClient(addr, &admin.ClientOptions{Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}

	// Refused once, served when asked again after the delay.
	addr, got := limitedServer(t, 1)
	if st, err := newClient(addr).Status(ctx); err != nil || st.Node != "n1" {
		t.Fatalf("a status refused once for the rate: %+v, %v; want it asked again and served", st, err)
	}
	if got.Load() != 2 {
		t.Fatalf("the node got %d requests, want 2 (refused, then asked again)", got.Load())
	}

	// Refused every time: a write fails saying so, asked three times.
	addr, got = limitedServer(t, 1<<40)
	_, err := newClient(addr).PutRoot(ctx, "h", "r", 1)
	if !errors.Is(err, admin.ErrRateLimited) || errors.Is(err, oss.ErrCommitUnknown) ||
		!strings.Contains(err.Error(), "nothing of this request was done") || !strings.Contains(err.Error(), "asked 3 times") {
		t.Fatalf("a put refused for the rate each time: %v; want ErrRateLimited, saying nothing was done and it asked 3 times", err)
	}
	if got.Load() != 3 {
		t.Fatalf("the node got %d requests, want 3", got.Load())
	}

	// A node that keeps refusing is passed for the next, which serves.
	next, gotNext := limitedServer(t, 0)
	if _, err := newClient(addr+","+next).PutRoot(ctx, "h", "r", 1); err != nil {
		t.Fatalf("a put past a node that refuses it for the rate: %v", err)
	}
	if gotNext.Load() != 1 {
		t.Fatalf("the next node got %d requests, want 1", gotNext.Load())
	}
}
