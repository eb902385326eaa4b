package client_test

import (
	"testing"
	"time"
)

// recvDeadline is how long recv waits: far over anything these tests
// wait for on a loaded machine, well under go test's -timeout (45
// minutes in the README's test command).
const recvDeadline = 5 * time.Minute

// recv receives from ch, or fails the test naming what it awaited if
// nothing comes within recvDeadline, instead of hanging until go test's
// -timeout. It is internal/testkit/await's Recv, which the applications'
// tests may not import.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(recvDeadline)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("waited %v for %s", recvDeadline, what)
	}
	var zero T
	return zero
}
