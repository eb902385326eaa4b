package main

import (
	"strings"
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

// Every figure the issue asks for is printed or named: the frame time,
// which needs a display, by the command that measures it.
func TestBenchNamesTheFrameTimeCommand(t *testing.T) {
	h := framesHint(300)
	for _, want := range []string{"frame time p50/p99", "wissenheim-frames-apart 300 1200", "--bots 300 --fit --frames 1200"} {
		if !strings.Contains(h, want) {
			t.Errorf("the bench's last line %q does not say %q", h, want)
		}
	}
}
