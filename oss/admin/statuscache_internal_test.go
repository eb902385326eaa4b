package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
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
