package await

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeT records what a wait failed with, and ends its goroutine as
// t.Fatalf does.
type fakeT struct {
	testing.TB
	failed string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a fakeT on a goroutine of its own, as a test
// function runs, and returns what it failed with ("" if it did not).
func run(t *testing.T, fn func(tb testing.TB)) string {
	f := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done // fn returns or fails within its own short deadline
	return f.failed
}

func TestRecvThatNeverComesFailsNamingIt(t *testing.T) {
	never := make(chan error)
	got := run(t, func(tb testing.TB) {
		RecvWithin(tb, never, 10*time.Millisecond, "the commit's answer")
	})
	if want := "waited 10ms for the commit's answer"; got != want {
		t.Fatalf("a receive that never came failed with %q, want %q", got, want)
	}
}

func TestRecvReturnsWhatCame(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	var v int
	if got := run(t, func(tb testing.TB) { v = Recv(tb, ch, "seven") }); got != "" || v != 7 {
		t.Fatalf("Recv of a value sent: %d, failed %q", v, got)
	}
	closed := make(chan struct{})
	close(closed)
	if got := run(t, func(tb testing.TB) { Recv(tb, closed, "a close") }); got != "" {
		t.Fatalf("Recv of a closed channel failed: %q", got)
	}
}

func TestWaitThatNeverEndsFailsNamingIt(t *testing.T) {
	var wg sync.WaitGroup
	wg.Add(1)
	defer wg.Done() // lets the waiting goroutine end
	got := run(t, func(tb testing.TB) {
		WaitWithin(tb, &wg, 10*time.Millisecond, "the writers")
	})
	if !strings.HasPrefix(got, "waited 10ms for the writers") {
		t.Fatalf("a WaitGroup that never ended failed with %q", got)
	}
	var ended sync.WaitGroup
	if got := run(t, func(tb testing.TB) { Wait(tb, &ended, "nothing") }); got != "" {
		t.Fatalf("Wait of a done WaitGroup failed: %q", got)
	}
}

func TestUntilThatNeverHoldsFailsNamingIt(t *testing.T) {
	got := run(t, func(tb testing.TB) {
		UntilWithin(tb, 10*time.Millisecond, "the queue to drain", func() bool { return false })
	})
	if want := "waited 10ms for the queue to drain"; got != want {
		t.Fatalf("a condition that never held failed with %q, want %q", got, want)
	}
	n := 0
	if got := run(t, func(tb testing.TB) { Until(tb, "three polls", func() bool { n++; return n == 3 }) }); got != "" || n != 3 {
		t.Fatalf("Until of a condition that holds at the third poll: %d polls, failed %q", n, got)
	}
}
