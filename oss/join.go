package oss

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// joinGroup asks the heap's leader to add this node as a learner and waits
// until the replica is a member of its group and has caught up.
func (n *Node) joinGroup(ctx context.Context, h *Heap, hint []groupMember) error {
	if h.inConf.Load() {
		return nil
	}
	if n.tr == nil {
		return fmt.Errorf("oss: heap %q: no network to join its group over", h.name)
	}
	var first []string
	for _, m := range hint {
		first = append(first, m.Name)
	}
	var lastErr error
	for attempt := 0; !h.inConf.Load(); attempt++ {
		if err := n.askJoin(ctx, h, first, h.inConf.Load, nil); err != nil {
			if errors.Is(err, ErrJoinRefused) {
				return fmt.Errorf("oss: heap %q: %w", h.name, err)
			}
			if lastErr == nil || ctx.Err() == nil {
				lastErr = err // not a call the caller's own end cut short: the last answer says why
			}
		}
		if h.inConf.Load() {
			break
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("oss: heap %q: join its group: %w (last error: %v)", h.name, ctx.Err(), lastErr)
			}
			return fmt.Errorf("oss: heap %q: join its group: %w (no leader answered)", h.name, ctx.Err())
		case <-h.stop:
			return ErrClosed
		case <-time.After(time.Duration(min(attempt+1, 10)) * 50 * time.Millisecond):
		}
	}
	return h.waitCaughtUp(ctx)
}

// waitCaughtUp waits until the replica has applied what its group had
// committed when it asked (a read index), and asks again while the group
// has no leader in reach: a node that joins or reopens a heap during an
// election, or while its group's leader is cut off for a moment, waits
// for the next leader as long as ctx lets it, as the join before it does,
// rather than failing Start or OpenHeap with ErrNoQuorum the first time.
func (h *Heap) waitCaughtUp(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := h.readIndex(ctx)
		if err == nil || !errors.Is(err, ErrNoQuorum) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("oss: heap %q: catch up with its group: %w (last error: %v)", h.name, ctx.Err(), err)
		case <-h.stop:
			return ErrClosed
		case <-time.After(time.Duration(min(attempt+1, 10)) * 50 * time.Millisecond):
		}
	}
}

// pollUntil polls cond until it holds, ctx ends or d passes.
func pollUntil(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
