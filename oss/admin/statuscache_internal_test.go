package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
)

// Concurrent status requests share gatherings: the node asks its members
// once for all the requests that come while a gathering is under way or
// within statusMaxAge of its start, not once per request. Before, each
// GET /v1/status asked every member, and one certificate's 1,800 a
// second made the members' commits 4× slower. The clock is a test's
// (Options.Now): the count does not depend on the machine's speed.
func TestConcurrentStatusesShareGatherings(t *testing.T) {
	n, err := oss.Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h, err := NewHandler(n, &Options{Insecure: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	a := h.(*api)
	var gathers atomic.Int64
	release := make(chan struct{})
	a.statuses.gather = func(ctx context.Context) oss.ClusterStatus {
		gathers.Add(1)
		<-release // the others come while it is under way
		return n.Status(ctx)
	}
	wave := func(k int) {
		var wg sync.WaitGroup
		for range k {
			wg.Go(func() {
				req := httptest.NewRequest("GET", "/v1/status", nil)
				req.Host = DefaultAddr
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					t.Errorf("status: %d %s", rec.Code, rec.Body)
				}
			})
		}
		close(release)
		wg.Wait()
		release = make(chan struct{})
	}
	wave(64)
	if g := gathers.Load(); g != 1 {
		t.Fatalf("64 concurrent status requests gathered the status %d times, want 1", g)
	}
	mu.Lock()
	now = now.Add(statusMaxAge / 2)
	mu.Unlock()
	wave(64)
	if g := gathers.Load(); g != 1 {
		t.Fatalf("64 more within %v of the gathering: %d gatherings in all, want 1", statusMaxAge, g)
	}
	mu.Lock()
	now = now.Add(statusMaxAge)
	mu.Unlock()
	wave(64)
	if g := gathers.Load(); g != 2 {
		t.Fatalf("64 more after the gathering is %v old: %d gatherings in all, want 2", 3*statusMaxAge/2, g)
	}
}

// A status asked after a change made through the interface shows it,
// however recent the last gathering: "heaps create" asks for the status
// right after the heap is created, and was shown one without it (0
// voters) when another status had been gathered within statusMaxAge.
func TestStatusAfterAChangeShowsIt(t *testing.T) {
	n, err := oss.Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	at := time.Now()
	h, err := NewHandler(n, &Options{Insecure: true, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(method, path string) string {
		req := httptest.NewRequest(method, path, nil)
		req.Host = DefaultAddr
		req.Header.Set(RequestHeader, "1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	if st := serve("GET", "/v1/status"); strings.Contains(st, `"made"`) {
		t.Fatalf("the status before the heap is made names it:\n%s", st)
	}
	serve("PUT", "/v1/heaps/made")
	if st := serve("GET", "/v1/status"); !strings.Contains(st, `"made"`) {
		t.Fatalf("the status right after PUT /v1/heaps/made, the clock stopped, lacks the heap:\n%s", st)
	}
}
