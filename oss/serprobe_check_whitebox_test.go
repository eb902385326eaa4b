package oss

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
)

// The serializability probe's checks of what Views read
// (serprobe_quic_whitebox_test.go).

// serInvariants returns what the transaction's snapshot breaks of the
// workloads' invariants.
func serInvariants(tx *Tx, clients int) ([]string, error) {
	var bad []string
	slots, err := serSlotIDs(tx)
	if err != nil {
		return nil, err
	}
	if len(slots) > serSlots {
		bad = append(bad, fmt.Sprintf("%d slot objects, over the limit of %d (predicate write skew)", len(slots), serSlots))
	}
	for i := range serPairs {
		x, errx := Get[int64](tx, serID('x', i, 0))
		y, erry := Get[int64](tx, serID('y', i, 0))
		if err := errors.Join(errx, erry); err != nil {
			return nil, err
		}
		if x+y < 0 {
			bad = append(bad, fmt.Sprintf("x%d+y%d = %d+%d < 0 (write skew)", i, i, x, y))
		}
	}
	b, err := serTokenBroken(tx)
	if err != nil {
		return nil, err
	}
	bad = append(bad, b...)
	for k := range serClaims {
		b, err := serClaimsBroken(tx, k, clients)
		if err != nil {
			return nil, err
		}
		bad = append(bad, b...)
	}
	return bad, nil
}

// serTokenBroken checks that exactly one token object holds the token and
// that the root names it.
func serTokenBroken(tx *Tx) ([]string, error) {
	root, err := tx.Root("token")
	if err != nil {
		return nil, err
	}
	var holders []int
	for i := range serTokens {
		tok, err := Get[serToken](tx, serID('t', i, 0))
		if err != nil {
			return nil, err
		}
		if tok.Has {
			holders = append(holders, i)
		}
	}
	if len(holders) != 1 || serID('t', holders[0], 0) != root {
		return []string{fmt.Sprintf("token held by %v, root names %v (read skew or a lost move)", holders, root)}, nil
	}
	return nil, nil
}

// serClaimsBroken checks root claim-k and object K_k against their
// claimants' flags: one flag set, the holder's, while bound; none while
// absent.
func serClaimsBroken(tx *Tx, k, clients int) ([]string, error) {
	var bad []string
	rootHeld, rerr := tx.Root(serClaimRoot(k))
	if rerr != nil && !errors.Is(rerr, ErrNotFound) {
		return nil, rerr
	}
	objHolder, oerr := Get[int](tx, serID('K', k, 0))
	if oerr != nil && !errors.Is(oerr, ErrNotFound) {
		return nil, oerr
	}
	var rootFlags, objFlags []int
	for cl := range clients {
		r, err := Get[bool](tx, serID('O', k, cl))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		o, err := Get[bool](tx, serID('o', k, cl))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if r {
			rootFlags = append(rootFlags, cl)
		}
		if o {
			objFlags = append(objFlags, cl)
		}
	}
	switch {
	case rerr == nil && (len(rootFlags) != 1 || serID('O', k, rootFlags[0]) != rootHeld):
		bad = append(bad, fmt.Sprintf("root %s names %v, claimants flagged %v", serClaimRoot(k), rootHeld, rootFlags))
	case rerr != nil && len(rootFlags) != 0:
		bad = append(bad, fmt.Sprintf("root %s absent, claimants flagged %v (anti-dependency on absence)", serClaimRoot(k), rootFlags))
	}
	switch {
	case oerr == nil && (len(objFlags) != 1 || objFlags[0] != objHolder):
		bad = append(bad, fmt.Sprintf("object K%d held by %d, claimants flagged %v", k, objHolder, objFlags))
	case oerr != nil && len(objFlags) != 0:
		bad = append(bad, fmt.Sprintf("object K%d absent, claimants flagged %v (anti-dependency on absence)", k, objFlags))
	}
	return bad, nil
}

// How the probe reads: a plain View, a Fresh one, or a read-only
// transaction from Begin with TxOptions.Fresh.
const (
	serPlain = iota
	serFresh
	serFreshBegin
)

// view reads h as how says, checks the invariants and returns the
// snapshot's index.
func (p *serProbe) view(ctx context.Context, where string, h *Heap, how int, also func(*Tx) error) (uint64, error) {
	var index uint64
	var bad []string
	err := serRead(ctx, h, how, func(tx *Tx) error {
		index = tx.Index()
		var err error
		if bad, err = serInvariants(tx, p.clients); err != nil {
			return err
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, b := range bad {
		p.violation("a read (%d) on %s at %d: %s", how, where, index, b)
	}
	return index, nil
}

func serRead(ctx context.Context, h *Heap, how int, fn func(*Tx) error) error {
	switch how {
	case serPlain:
		return h.View(ctx, fn, nil)
	case serFresh:
		return h.View(ctx, fn, &ViewOptions{Fresh: true})
	}
	tx, err := h.Begin(ctx, &TxOptions{ReadOnly: true, Fresh: true})
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// observe runs plain Views on one node, one after another, until stop:
// each must hold the invariants, and none may read an earlier index than
// the one before it on the same node (monotonic reads, through leader
// changes). A node restarted is a new process: an earlier index then is
// counted, not reported.
func (p *serProbe) observe(name string, rng *rand.Rand, stop <-chan struct{}) {
	var last uint64
	var lastHeap *Heap
	for {
		select {
		case <-stop:
			return
		default:
		}
		h := p.heaps()[name]
		index, err := p.view(context.Background(), name, h, serPlain, nil)
		switch {
		case err != nil:
			p.count("view failed")
		case index < last && h == lastHeap:
			p.violation("a View on %s read index %d after one read %d (monotonic reads)", name, index, last)
		case index < last:
			p.count("view earlier after a restart")
		default:
			p.count("view")
		}
		if err == nil {
			last, lastHeap = index, h
		}
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
	}
}

// readOwnWrite checks, right after the client's Update of its register
// returned nil on h, that a plain View on h sees it.
func (p *serProbe) readOwnWrite(name string, h *Heap, cl, seq int) {
	_, err := p.view(context.Background(), name, h, serPlain, func(tx *Tx) error {
		v, err := Get[int64](tx, serID('r', 0, cl))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if v < int64(seq) {
			p.violation("client %d's Update of its register to %d returned nil on %s; a View there then read %d (read your writes)", cl, seq, name, v)
		}
		return nil
	})
	if err == nil {
		p.count("read own write")
	}
}

// freshCheck runs a Fresh View on some node: it must see every register
// write acknowledged before it began.
func (p *serProbe) freshCheck(rng *rand.Rand) {
	before := make([]int64, p.clients)
	for cl := range before {
		before[cl] = p.acked[cl].Load()
	}
	name, h := p.pick(rng)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := p.view(ctx, name, h, serFresh+rng.IntN(2), func(tx *Tx) error {
		for cl, want := range before {
			v, err := Get[int64](tx, serID('r', 0, cl))
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if v < want {
				p.violation("a Fresh read on %s read client %d's register as %d; %d was acknowledged before it began", name, cl, v, want)
			}
		}
		return nil
	})
	if err == nil {
		p.count("fresh view")
	}
}

// fekete runs rounds of the read-only anomaly's shape on fresh objects:
// T1 adds 20 to s; T2 takes 10 from c, and 1 more if c+s < 10; Views on
// every node read both. A View that saw T1 and not T2 while T2 did not
// see T1 (c ends at -11) is a cycle no serial order explains.
func (p *serProbe) fekete(rng *rand.Rand, stop <-chan struct{}) {
	for r := 1; ; r++ {
		select {
		case <-stop:
			return
		default:
		}
		c, s := serID('f', 0, r), serID('g', 0, r)
		var wg sync.WaitGroup
		_, h1 := p.pick(rng)
		_, h2 := p.pick(rng)
		wg.Go(func() { p.outcome("fekete deposit", serTimed(h1, func(tx *Tx) error { return serAdd(tx, s, 20) })) })
		wg.Go(func() {
			p.outcome("fekete withdraw", serTimed(h2, func(tx *Tx) error { return serWithdraw(tx, c, s) }))
		})
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		saw := p.feketeViews(rng, c, s, done)
		cv, sv, ok := p.feketeFinal(rng, c, s)
		switch {
		case !ok:
			p.count("fekete round unread")
		case saw != "" && cv == -11:
			p.violation("round %d: %s, yet the withdrawal did not see the deposit (c=%d, s=%d): read-only anomaly", r, saw, cv, sv)
		case cv == -11 && sv == 20:
			p.count("fekete withdraw before deposit")
		default:
			p.count("fekete round")
		}
	}
}

// feketeViews reads c and s on random nodes until done, and describes
// the first View that saw the deposit without the withdrawal.
func (p *serProbe) feketeViews(rng *rand.Rand, c, s uuid.UUID, done <-chan struct{}) string {
	var saw string
	for {
		name, h := p.pick(rng)
		var cv, sv int64
		err := h.View(context.Background(), func(tx *Tx) error {
			var err error
			if cv, err = serGet(tx, c); err != nil {
				return err
			}
			sv, err = serGet(tx, s)
			return err
		}, nil)
		if err == nil && saw == "" && sv == 20 && cv == 0 {
			saw = "a View on " + name + " saw the deposit and not the withdrawal"
		}
		select {
		case <-done:
			return saw
		default:
		}
	}
}

func (p *serProbe) feketeFinal(rng *rand.Rand, c, s uuid.UUID) (cv, sv int64, ok bool) {
	for range 20 {
		_, h := p.pick(rng)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := h.View(ctx, func(tx *Tx) error {
			var err error
			if cv, err = serGet(tx, c); err != nil {
				return err
			}
			sv, err = serGet(tx, s)
			return err
		}, &ViewOptions{Fresh: true})
		cancel()
		if err == nil {
			return cv, sv, true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, 0, false
}

func serTimed(h *Heap, fn func(*Tx) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return h.Update(ctx, fn)
}

func serGet(tx *Tx, id uuid.UUID) (int64, error) {
	v, err := Get[int64](tx, id)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	return v, err
}

func serAdd(tx *Tx, id uuid.UUID, d int64) error {
	v, err := serGet(tx, id)
	if err != nil {
		return err
	}
	return Put(tx, id, v+d)
}

func serWithdraw(tx *Tx, c, s uuid.UUID) error {
	cv, err := serGet(tx, c)
	if err != nil {
		return err
	}
	sv, err := serGet(tx, s)
	if err != nil {
		return err
	}
	take := int64(10)
	if cv+sv < 10 {
		take++
	}
	return Put(tx, c, cv-take)
}

// final reads every node with a Fresh View once the cluster has healed:
// the invariants, every acknowledged register write, and each counter
// between its acknowledged increments and those plus the unknown ones.
func (p *serProbe) final() {
	for name, h := range p.heaps() {
		deadline := time.Now().Add(time.Minute)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := p.view(ctx, name, h, serFresh, func(tx *Tx) error { return p.finalValues(name, tx) })
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				p.t.Fatalf("no Fresh View on %s after healing: %v", name, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (p *serProbe) finalValues(name string, tx *Tx) error {
	for cl := range p.clients {
		v, err := serGet(tx, serID('r', 0, cl))
		if err != nil {
			return err
		}
		if want := p.acked[cl].Load(); v < want {
			p.violation("on %s after healing, client %d's register is %d; %d was acknowledged", name, cl, v, want)
		}
	}
	for k := range serCounts {
		v, err := serGet(tx, serID('c', k, 0))
		if err != nil {
			return err
		}
		lo := p.incAcked[k].Load()
		if hi := lo + p.incUnknown[k].Load(); v < lo || v > hi {
			p.violation("on %s after healing, counter %d is %d; %d increments acknowledged, %d unknown (lost or phantom update)", name, k, v, lo, hi-lo)
		}
	}
	return nil
}
