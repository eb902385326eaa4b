package oss

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
)

// reachAny and reachAll share one dialer (reachEach) and differ in one
// thing only: an address that answers ends reachAny's other dials, and
// none of reachAll's, each of which ends with its own answer. Each is
// held at the moment after the member answered (synctest.Wait: every
// goroutine of the bubble is blocked or done), where the silent
// address's context is looked at.
func TestReachAnyCutsShortAndReachAllWaits(t *testing.T) {
	for _, c := range []struct {
		name      string
		reachFn   func(context.Context, []string, func(context.Context, string) error) []error
		cutShort  bool
		silentErr error
	}{
		{"reachAny", reachAny, true, context.Canceled},
		{"reachAll", reachAll, false, errNoAnswer},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				var silentCtx context.Context
				var errs []error
				done := make(chan struct{})
				go func() {
					defer close(done)
					errs = c.reachFn(context.Background(), []string{"silent", "member"}, func(ctx context.Context, a string) error {
						if a == "member" {
							return nil
						}
						silentCtx = ctx
						select {
						case <-ctx.Done():
							return ctx.Err()
						case <-release:
							return errNoAnswer
						}
					})
				}()
				synctest.Wait()
				if cut := silentCtx.Err() != nil; cut != c.cutShort {
					t.Fatalf("once the member answered, the silent address's dial was cut short: %v, want %v", cut, c.cutShort)
				}
				close(release)
				<-done
				if errs[1] != nil || !errors.Is(errs[0], c.silentErr) {
					t.Fatalf("errors %v, want [%v <nil>]", errs, c.silentErr)
				}
			})
		})
	}
}

var errNoAnswer = errors.New("no answer")
