// Package await gives tests waits that end. A test that receives from a
// channel or waits for a WaitGroup with nothing else in the select hangs
// when what it awaits never comes, until go test's -timeout ends the whole
// package with a dump of every goroutine and no word of what was awaited.
// Recv, Wait and Until give up after Deadline, long enough for a loaded machine
// (load 20 and more on 2 cores), and fail the test naming what they
// awaited.
//
// Packages whose tests may not import internal/testkit use
// oss/osstest.Recv, the same wait (cmd/ossd); Wissenheim's packages,
// whose tests import only oss and oss/pki, keep a copy of Recv.
package await

import (
	"sync"
	"testing"
	"time"
)

// Deadline is how long Recv, Wait and Until wait. It is far over anything a
// test waits for on a loaded machine, and well under go test's -timeout
// in the README's test command (45 minutes), so a hang names itself
// before the whole package is stopped.
const Deadline = 5 * time.Minute

// Recv receives from ch. If nothing comes within Deadline it fails the
// test: "waited 5m0s for what". It must be called from the test's
// goroutine, as t.Fatal must.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return RecvWithin(t, ch, Deadline, what)
}

// RecvWithin is Recv with a deadline of d.
func RecvWithin[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("waited %v for %s", d, what)
	}
	var zero T
	return zero
}

// Wait waits for wg. If it is not done within Deadline it fails the test
// naming what it awaited; the goroutine that waits for wg is then left
// behind (the test has failed).
func Wait(t testing.TB, wg *sync.WaitGroup, what string) {
	t.Helper()
	WaitWithin(t, wg, Deadline, what)
}

// WaitWithin is Wait with a deadline of d.
func WaitWithin(t testing.TB, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	RecvWithin(t, done, d, what)
}

// Until polls cond every millisecond until it holds. If it does not
// within Deadline it fails the test: "waited 5m0s for what".
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	UntilWithin(t, Deadline, what, cond)
}

// UntilWithin is Until with a deadline of d.
func UntilWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(time.Millisecond)
	}
}
