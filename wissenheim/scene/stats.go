package scene

import (
	"context"
	"sync/atomic"

	"github.com/objectsharing/oss/oss"
)

type opKind uint8

const (
	opJoin opKind = iota
	opMove
	opPickUp
	opDrop
	opGive
	opKick
	opSay
	opToggle
	opHeartbeat
	opLeave
	opReap
	numOps
)

var opNames = [numOps]string{"join", "move", "pick up", "drop", "give", "kick", "say", "toggle", "heartbeat", "leave", "reap"}

func (k opKind) String() string { return opNames[k] }

type opCounters struct {
	calls, runs, commits atomic.Uint64
}

// OpStats counts one kind of interaction made through a World.
type OpStats struct {
	// Op names the interaction: "move", "pick up", ….
	Op string
	// Calls counts the calls that ran a transaction (not those refused
	// for their arguments alone); Commits those that committed (the
	// others were refused or failed).
	Calls, Commits uint64
	// Runs counts the runs of the interaction's transaction function:
	// Runs − Calls are re-runs, after a conflict with another commit or
	// after a refusal found to rest on a stale read.
	Runs uint64
}

// Stats returns what the interactions made through w have cost so far,
// one entry per kind of interaction.
func (w *World) Stats() []OpStats {
	s := make([]OpStats, numOps)
	for i := range s {
		c := &w.stats[i]
		s[i] = OpStats{Op: opNames[i], Calls: c.calls.Load(), Commits: c.commits.Load(), Runs: c.runs.Load()}
	}
	return s
}

// op runs fn as one interaction of kind op, counting it.
func (w *World) op(ctx context.Context, op opKind, fn func(tx *oss.Tx) error) error {
	c := &w.stats[op]
	c.calls.Add(1)
	err := w.h.Update(ctx, func(tx *oss.Tx) error {
		c.runs.Add(1)
		return fn(tx)
	})
	if err == nil {
		c.commits.Add(1)
	}
	return err
}
