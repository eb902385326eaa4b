package oss

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A start whose Join names a member that answers and an address that does
// not joins through the member at once: the dial of the silent address is
// cut short (its context cancelled), not waited out to its timeout. Before,
// every start of a node whose Join named a member that was down took a
// whole dial's timeout (5 s) more.
func TestJoinDoesNotWaitForASilentAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // against a hang
	defer cancel()
	var silent error
	errs := reachAny(ctx, []string{"127.0.0.1:9", "member"}, func(ctx context.Context, a string) error {
		if a == "member" {
			return nil
		}
		<-ctx.Done()
		silent = ctx.Err()
		return silent
	})
	if errs[1] != nil {
		t.Fatalf("the member that answered: %v", errs[1])
	}
	if errs[0] == nil {
		t.Fatal("the silent address answered")
	}
	if !errors.Is(silent, context.Canceled) {
		t.Fatalf("the silent address's dial ended with %v, want it cancelled once the member answered", silent)
	}
}

// When no address answers, every address's own error is kept: a refusal
// among them still says so (ErrJoinRefused, in joinMembersOnce), and none
// is cut short.
func TestJoinKeepsEveryErrorWhenNoneAnswers(t *testing.T) {
	refused, silent := errors.New("refused"), errors.New("no answer")
	errs := reachAny(context.Background(), []string{"a", "b"}, func(ctx context.Context, a string) error {
		if a == "a" {
			return refused
		}
		return silent
	})
	if errs[0] != refused || errs[1] != silent {
		t.Fatalf("errors %v, want [%v %v]", errs, refused, silent)
	}
}
