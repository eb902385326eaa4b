package main

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The benchmark runs end to end, small and short, and leaves nothing
// running: its figures are not checked here (speed is only measured).
func TestBenchRuns(t *testing.T) {
	r, err := bench(options{nodes: 3, rate: 20, warmup: 300 * time.Millisecond, duration: time.Second}, 30, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.moves == 0 || r.visible99 == 0 {
		t.Fatalf("nothing measured: %+v", r)
	}
}
