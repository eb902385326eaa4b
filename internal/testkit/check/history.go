// Package check checks histories of transactions for anomalies, in the
// manner of Elle and Knossos: a list-append workload whose dependencies
// are inferred from the lists read (write-write from list order,
// write-read, read-write anti-dependencies, real-time order of
// linearizable operations) and searched for cycles (G0, G1c, G-single, G2)
// and for aborted, intermediate and stale reads, lost updates and lost
// writes; a bank workload whose every snapshot must conserve the money;
// and single-object registers checked for linearizability with porcupine.
//
// A history is recorded by clients as they go (see Recorder) and checked
// once the run is over. Every anomaly comes with the smallest cycle or the
// operations that show it.
package check

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// MopKind says what a micro-operation does.
type MopKind uint8

const (
	// Append appends Value to the list at Key.
	Append MopKind = iota
	// Read reads the whole list at Key into List.
	Read
)

// Mop is one micro-operation of a transaction.
type Mop struct {
	Kind  MopKind
	Key   int
	Value int   // Append: the value, unique per key in a history
	List  []int // Read: what was read, when the transaction committed
}

func (m Mop) String() string {
	if m.Kind == Append {
		return fmt.Sprintf("append(%d, %d)", m.Key, m.Value)
	}
	return fmt.Sprintf("read(%d) → %v", m.Key, m.List)
}

// Status is a transaction's outcome as its client saw it.
type Status uint8

const (
	// OK: committed (a read-only transaction: its view was consistent).
	OK Status = iota
	// Fail: definitely not committed; none of its appends may be seen.
	Fail
	// Info: the outcome is unknown; its appends may or may not be seen.
	Info
)

func (s Status) String() string {
	return [...]string{"ok", "fail", "info"}[s]
}

// Txn is one transaction of a history.
type Txn struct {
	ID      int
	Process int
	Mops    []Mop
	Status  Status
	// Realtime marks a transaction the store orders in real time: an
	// update transaction, or a read-only one at a Fresh view. Plain views
	// read a snapshot that may be stale and are only serializable.
	Realtime bool
	// Start and End are the times the client began and learnt the
	// outcome (monotonic nanoseconds). End of an Info transaction is
	// unknown: it is treated as never.
	Start, End int64
}

func (t *Txn) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "T%d(p%d %s", t.ID, t.Process, t.Status)
	if t.Realtime {
		b.WriteString(" rt")
	}
	b.WriteString(") [")
	for i, m := range t.Mops {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.String())
	}
	b.WriteString("]")
	return b.String()
}

// Recorder collects a history from concurrent clients.
type Recorder struct {
	mu    sync.Mutex
	base  time.Time
	txns  []Txn
	regs  []RegisterOp
	banks []BankRead
}

// NewRecorder returns an empty recorder whose clock starts now.
func NewRecorder() *Recorder { return &Recorder{base: time.Now()} }

// Now returns the recorder's clock.
func (r *Recorder) Now() int64 { return int64(time.Since(r.base)) }

// Txn records a transaction; its ID is assigned here.
func (r *Recorder) Txn(t Txn) {
	if t.Status == Info {
		t.End = math.MaxInt64
	}
	r.mu.Lock()
	t.ID = len(r.txns)
	r.txns = append(r.txns, t)
	r.mu.Unlock()
}

// Register records a register operation.
func (r *Recorder) Register(op RegisterOp) {
	r.mu.Lock()
	r.regs = append(r.regs, op)
	r.mu.Unlock()
}

// Bank records a bank snapshot.
func (r *Recorder) Bank(b BankRead) {
	r.mu.Lock()
	r.banks = append(r.banks, b)
	r.mu.Unlock()
}

// Len returns how many transactions were recorded so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.txns)
}

// Txns returns the transactions recorded so far.
func (r *Recorder) Txns() []Txn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Txn(nil), r.txns...)
}

// Registers returns the register operations recorded so far.
func (r *Recorder) Registers() []RegisterOp {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RegisterOp(nil), r.regs...)
}

// Banks returns the bank snapshots recorded so far.
func (r *Recorder) Banks() []BankRead {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]BankRead(nil), r.banks...)
}

// Anomaly is one thing a history shows that the store promises not to do.
type Anomaly struct {
	// Kind names it: G0, G1a, G1b, G1c, G-single, G2 (with "-realtime" when
	// the cycle needs real-time order), lost-update, stale-read,
	// incompatible-order, duplicate, garbage-read, lost-write, bank,
	// nonlinearizable.
	Kind string
	// Txns are the transactions involved, a cycle in its order.
	Txns []int
	// Explain shows the operations and the edges between them.
	Explain string
}

func (a Anomaly) String() string { return a.Kind + ": " + a.Explain }
