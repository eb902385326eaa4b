package oss

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
)

// The serializability probe's transactions and invariants
// (serprobe_quic_whitebox_test.go).

// client runs transactions until stop, each on a node drawn anew.
func (p *serProbe) client(cl int, rng *rand.Rand, stop <-chan struct{}) {
	for seq := 1; ; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		name, h := p.pick(rng)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(200+rng.IntN(1800))*time.Millisecond)
		kind, fn := p.txFor(cl, seq, rng)
		var err error
		if rng.IntN(3) == 0 {
			err = serBeginCommit(ctx, h, fn)
		} else {
			err = h.Update(ctx, fn)
		}
		cancel()
		p.outcome(kind, err)
		switch {
		case kind == "inc" && errors.Is(err, ErrCommitUnknown):
			p.incUnknown[seq%serCounts].Add(1)
		case err != nil:
		case kind == "inc":
			p.incAcked[seq%serCounts].Add(1)
		case kind == "register":
			p.acked[cl].Store(int64(seq))
			p.readOwnWrite(name, h, cl, seq)
		}
		if errors.Is(err, ErrClosed) || errors.Is(err, ErrNoQuorum) {
			time.Sleep(time.Millisecond) // its node is down: not a busy loop
		}
		if rng.IntN(4) == 0 {
			p.freshCheck(rng)
		}
	}
}

func (p *serProbe) outcome(kind string, err error) {
	switch {
	case err == nil:
		p.count(kind + " ok")
	case errors.Is(err, ErrCommitUnknown):
		p.count(kind + " unknown")
	case errors.Is(err, ErrConflict):
		p.count(kind + " conflict")
	case errors.Is(err, errSerViolation):
		p.violation("%s: %v", kind, err)
	case errors.Is(err, errSerFull):
		p.count(kind + " found it full")
	default:
		p.count(kind + " failed")
	}
}

var (
	errSerViolation = errors.New("invariant broken inside a transaction")
	errSerFull      = errors.New("every slot taken")
)

// serBeginCommit runs fn in a transaction from Begin, committed once.
func serBeginCommit(ctx context.Context, h *Heap, fn func(*Tx) error) error {
	tx, err := h.Begin(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// txFor draws the client's next transaction.
func (p *serProbe) txFor(cl, seq int, rng *rand.Rand) (string, func(*Tx) error) {
	switch k := rng.IntN(9); k {
	case 0:
		slot, full := serSlot(rng), rng.IntN(3)
		return "slot insert", func(tx *Tx) error { return serSlotInsert(tx, slot, full) }
	case 1:
		r := rng.Uint64()
		return "slot delete", func(tx *Tx) error { return serSlotDelete(tx, r) }
	case 2:
		i, first, refill := rng.IntN(serPairs), rng.IntN(2) == 0, rng.IntN(4) == 0
		return "write skew", func(tx *Tx) error { return serSkew(tx, i, first, refill) }
	case 3:
		to := rng.IntN(serTokens)
		return "token move", func(tx *Tx) error { return serMove(tx, to) }
	case 4:
		k := rng.IntN(serClaims)
		return "root claim", func(tx *Tx) error { return serRootClaim(tx, k, cl) }
	case 5:
		k := rng.IntN(serClaims)
		return "object claim", func(tx *Tx) error { return serObjectClaim(tx, k, cl) }
	case 6:
		return "inc", func(tx *Tx) error {
			id := serID('c', seq%serCounts, 0)
			v, err := Get[int64](tx, id)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			return Put(tx, id, v+1)
		}
	}
	return "register", func(tx *Tx) error {
		id := serID('r', 0, cl)
		v, err := Get[int64](tx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		return Put(tx, id, max(v, int64(seq)))
	}
}

func serSlotIDs(tx *Tx) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := tx.Scan(func(id uuid.UUID) bool {
		if id[0] == 'S' {
			ids = append(ids, id)
		}
		return true
	})
	return ids, err
}

// serSlotInsert inserts a slot object while the scan counts fewer than
// serSlots: two that each see room and each insert are write skew
// through a predicate.
// While there is no room it commits its read (full 0), returns an error
// (full 1: a decision Update checks against the group's commit index)
// or waits for a change (full 2: ErrRetry).
func serSlotInsert(tx *Tx, slot uuid.UUID, full int) error {
	ids, err := serSlotIDs(tx)
	switch {
	case err != nil:
		return err
	case len(ids) > serSlots:
		return fmt.Errorf("%w: %d slot objects, over the limit of %d", errSerViolation, len(ids), serSlots)
	case len(ids) < serSlots:
		return Put(tx, slot, true)
	case full == 1:
		return errSerFull
	case full == 2:
		return tx.Retry()
	}
	return nil
}

func serSlotDelete(tx *Tx, r uint64) error {
	ids, err := serSlotIDs(tx)
	if err != nil || len(ids) == 0 {
		return err
	}
	return tx.Delete(ids[r%uint64(len(ids))])
}

// serSkew takes 1 from x_i or y_i while their sum is positive, or adds
// 1 to one: each reads both, so two that take from different ones
// while the sum is 1 are write skew.
func serSkew(tx *Tx, i int, first, refill bool) error {
	x, err := Get[int64](tx, serID('x', i, 0))
	if err != nil {
		return err
	}
	y, err := Get[int64](tx, serID('y', i, 0))
	if err != nil {
		return err
	}
	if x+y < 0 {
		return fmt.Errorf("%w: x%d+y%d = %d", errSerViolation, i, i, x+y)
	}
	id, v := serID('x', i, 0), x
	if !first {
		id, v = serID('y', i, 0), y
	}
	switch {
	case refill && x+y < 3:
		return Put(tx, id, v+1)
	case x+y >= 1:
		return Put(tx, id, v-1)
	}
	return nil
}

// serMove moves the token: the root "token" names the object that has
// it; the move reads the root and that object and writes both objects
// and the root.
func serMove(tx *Tx, to int) error {
	from, err := tx.Root("token")
	if err != nil {
		return err
	}
	tok, err := Get[serToken](tx, from)
	if err != nil {
		return err
	}
	if !tok.Has {
		return fmt.Errorf("%w: the root names %v, which does not hold the token", errSerViolation, from)
	}
	dst := serID('t', to, 0)
	if dst == from {
		return nil
	}
	if err := Put(tx, from, serToken{}); err != nil {
		return err
	}
	if err := Put(tx, dst, serToken{Has: true}); err != nil {
		return err
	}
	return tx.SetRoot("token", dst)
}

// serRootClaim claims the root claim-k while it is absent (a read of an
// absent root, then its creation), flagging the claimant with a blind
// write of its own object; while it is bound, it releases it and clears
// the holder's flag. Two that both see it absent and both claim leave
// two flags set.
func serRootClaim(tx *Tx, k, cl int) error {
	held, err := tx.Root(serClaimRoot(k))
	switch {
	case errors.Is(err, ErrNotFound):
		me := serID('O', k, cl)
		if err := tx.SetRoot(serClaimRoot(k), me); err != nil {
			return err
		}
		return Put(tx, me, true)
	case err != nil:
		return err
	}
	if err := tx.DeleteRoot(serClaimRoot(k)); err != nil {
		return err
	}
	return Put(tx, held, false)
}

// serObjectClaim is serRootClaim on an object, K_k, deleted and created
// again under the same ID.
func serObjectClaim(tx *Tx, k, cl int) error {
	key := serID('K', k, 0)
	holder, err := Get[int](tx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		if err := Put(tx, key, cl); err != nil {
			return err
		}
		return Put(tx, serID('o', k, cl), true)
	case err != nil:
		return err
	}
	if err := tx.Delete(key); err != nil {
		return err
	}
	return Put(tx, serID('o', k, holder), false)
}
