package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// The CLI says what a node's 429 means: the user's identity is over its
// request rate there, nothing of the command was done, and which flags
// of ossd run set the limit. With a delay it can wait (Retry-After of
// a second) it asks again twice, and says so when it still failed; a
// longer delay it does not wait. Before, it printed the node's message
// of a status it treated as no particular failure, asked once, and a
// put refused did not say whether it had written.
func TestCLIOnRateLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	at := time.Now()
	serveLimited := func(rate float64) []string {
		srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true,
			Now: func() time.Time { return at }, RateLimit: rate, RateBurst: 1, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close(ctx) })
		return []string{"--http", srv.Addr(), "--http-insecure"}
	}

	// A token every 10 s, and the clock stands still: the put after the
	// heap list is refused, and not waited for.
	flags := serveLimited(0.1)
	if err := heapsTo(io.Discard, flags); err != nil {
		t.Fatalf("ossd heaps within the burst: %v", err)
	}
	var out strings.Builder
	err = putFrom(strings.NewReader(""), &out, append([]string{"h", "r", "1"}, flags...))
	if !errors.Is(err, admin.ErrRateLimited) || !strings.Contains(err.Error(), "nothing of this request was done") ||
		!strings.Contains(err.Error(), "--http-rate") || !strings.Contains(err.Error(), "retry after 10s") {
		t.Fatalf("ossd put over the rate: %v (printed %q); want an error saying nothing was done, when to retry, and naming --http-rate", err, out.String())
	}
	if _, err := n.Heap(ctx, "h"); !errors.Is(err, oss.ErrNoHeap) {
		t.Fatalf("the heap of a put refused for the rate: %v, want ErrNoHeap (nothing written)", err)
	}

	// A token a second: the CLI waits the second the node asks, twice,
	// then says it asked three times.
	flags = serveLimited(1)
	if err := heapsTo(io.Discard, flags); err != nil {
		t.Fatalf("ossd heaps within the burst: %v", err)
	}
	err = heapsTo(io.Discard, flags)
	if !errors.Is(err, admin.ErrRateLimited) || !strings.Contains(err.Error(), "asked 3 times") {
		t.Fatalf("ossd heaps over the rate, Retry-After 1: %v; want it refused after asking 3 times", err)
	}
}

// ossd run refuses a rate or a burst that is not positive, naming the
// flag: zero would be the library's default, and a negative rate none.
func TestRunRefusesBadRateLimits(t *testing.T) {
	for _, tc := range []struct{ args, want string }{
		{"--http-rate 0", "--http-rate 0"},
		{"--http-rate -5", "--http-rate -5"},
		{"--http-rate NaN", "--http-rate NaN"},
		{"--http-burst 0", "--http-burst 0"},
	} {
		var f runFlags
		err := f.parse(strings.Fields(tc.args))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %s: %v, want an error naming %q", tc.args, err, tc.want)
		}
	}
	var f runFlags
	if err := f.parse([]string{"--http-rate", "inf", "--http-burst", "1"}); err != nil {
		t.Fatalf("run --http-rate inf --http-burst 1: %v", err)
	}
}
