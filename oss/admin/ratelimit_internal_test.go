package admin

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// The limiter keeps at most Options.RateIdentities buckets, however many
// identities come, and an identity it keeps that is out of tokens stays
// refused while idle ones come and go: a full bucket is dropped first.
func TestLimiterBucketsBounded(t *testing.T) {
	now := time.Now()
	o := (&Options{RateLimit: 1, RateBurst: 2, RateIdentities: 8, Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)}).populate(nil)
	l := newLimiter(&o, "n1")
	flood := Identity{Name: "flood", Role: pki.RoleAdmin}
	for range 2 {
		if ok, _ := l.take(flood, 1); !ok {
			t.Fatal("refused within the burst")
		}
	}
	for i := range 1000 {
		now = now.Add(10 * time.Second) // every idle bucket refills
		if ok, _ := l.take(flood, 1); !ok {
			t.Fatalf("flood refused after 10 s at 1 a second")
		}
		if ok, _ := l.take(flood, 1); !ok {
			t.Fatalf("flood refused its second token of 2")
		}
		if ok, wait := l.take(flood, 1); ok || wait != time.Second {
			t.Fatalf("flood's third request in an instant: ok %v, wait %v; want refused, 1s", ok, wait)
		}
		id := Identity{Name: fmt.Sprintf("user%d", i), Role: pki.RoleClient}
		if ok, _ := l.take(id, 1); !ok {
			t.Fatalf("%s's first request refused", id.Name)
		}
		if s := l.size(); s > 8 {
			t.Fatalf("%d buckets kept, want at most RateIdentities, 8", s)
		}
	}
	if _, kept := l.buckets[flood]; !kept {
		t.Fatal("the flooding identity's bucket was dropped for idle ones")
	}
}
