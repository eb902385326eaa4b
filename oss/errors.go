package oss

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/google/uuid"
)

// Errors returned by OSS. Compare with errors.Is: most are returned wrapped,
// with details.
var (
	// ErrConflict is returned when a transaction read something that another
	// transaction changed before it committed. Update retries on it, up to
	// Config.MaxRetries; Tx.Commit returns it. The error is a *ConflictError.
	ErrConflict = errors.New("oss: transaction conflict")
	// ErrNotFound is returned when an object or a named root does not exist.
	ErrNotFound = errors.New("oss: not found")
	// ErrTxDone is returned by every call on a transaction that has already
	// committed or rolled back.
	ErrTxDone = errors.New("oss: transaction has already been committed or rolled back")
	// ErrClosed is returned when the node or the heap has been closed. A
	// commit that fails with it was not committed. On a handle whose
	// replica the node lost while it ran (see Node.Heap), the error
	// matches the loss too (ErrCorrupt when the node's data lost what it
	// acknowledged), and says how to rebuild the replica; on a handle of
	// a heap dropped (by this node or another), it says so.
	ErrClosed = errors.New("oss: closed")
	// ErrReadOnly is returned when a read-only transaction (a View) writes.
	ErrReadOnly = errors.New("oss: write in a read-only transaction")
	// ErrNoQuorum is returned when a heap's commit log cannot accept the
	// commit: no leader is reachable, or a quorum of its voters is not.
	// A commit that fails with it was not committed; a record proposed
	// before the leader was lost ends with ErrCommitUnknown instead.
	ErrNoQuorum = errors.New("oss: no quorum")
	// ErrNoHeap is returned by Heap and DropHeap for a heap that does not
	// exist, wrapped with the heap's name and what to do: Heap's says how
	// to create it (CreateHeap or CreateHeapIfNotExists; "ossd heaps
	// create NAME"), DropHeap's that nothing was dropped.
	ErrNoHeap = errors.New("oss: no such heap")
	// ErrHeapExists is returned by CreateHeap for a heap that exists
	// already.
	ErrHeapExists = errors.New("oss: heap already exists")
	// ErrCreatedNotOpen is returned by CreateHeap, and by
	// CreateHeapIfNotExists when the call created the heap (one of its
	// tries wrote the entry it found, see there), when the heap
	// was created (its entry in the catalog committed) but this node did
	// not open its replica of it: the caller's context ended, the node
	// closed or the join failed before it was open. The heap exists: open
	// it with Node.Heap (CreateHeap again returns ErrHeapExists). The error says
	// why in its text, and does not match the cause (a context error,
	// ErrClosed, ErrNoQuorum), which would say the heap was not created.
	ErrCreatedNotOpen = errors.New("oss: heap created, not open on this node")
	// ErrCommitUnknown is returned when a commit record was handed to the
	// heap's log but its outcome could not be learned: the caller's context
	// ended, or the node closed, before the decision arrived, or the
	// heap's group had no leader in reach for a while (an election that
	// did not end, a partition) after the record went out. The
	// transaction may or may not have committed. Every such error is a
	// *UnknownOutcomeError (perhaps wrapped), and every
	// *UnknownOutcomeError matches ErrCommitUnknown. The error also
	// matches its cause when that is the caller's context
	// (context.Canceled, context.DeadlineExceeded), never ErrClosed or
	// ErrNoQuorum, which mean that nothing was committed.
	//
	// A later transaction on the heap sees the writes of one that
	// committed (a Fresh View does at once), but not seeing them is no
	// answer yet: the record may still be on its way to the log, and
	// commit after. To settle an outcome, give the transaction an object
	// of its own (a marker under a new ID) that it reads (Tx.Exists) and
	// writes; after ErrCommitUnknown, run an Update that reads the marker
	// and, if it is not there, writes it. When that Update returns nil,
	// the transaction committed if the marker was there; if not, it never
	// will: it read the marker absent, and the Update's write makes its
	// record conflict should it still arrive.
	ErrCommitUnknown = errors.New("oss: commit outcome unknown")
	// ErrDisk is returned by a commit when this node's disk refused a
	// write the heap's replica needs: its write-ahead log (a full disk,
	// an I/O error, a sync that failed, a log removed while the node
	// ran) or its striped store (a leader's snapshot it must store
	// first). The replica commits nothing until the disk takes the write
	// (offered again every tick; a failed or removed log until the node
	// restarts, see the error's text). A commit that fails with it was
	// not committed: its record was never proposed. One proposed before
	// the refusal ends with ErrCommitUnknown instead, never with ErrDisk:
	// its record may be in another member's log, and commit there. Both
	// name the file and match the disk's error (syscall.ENOSPC,
	// syscall.EIO).
	ErrDisk = errors.New("oss: the node's disk refused a write; nothing was committed")
	// ErrInvalidArgument is returned, wrapped with details, for an argument
	// no call can accept: Put (or Ref.Put) of the nil object ID, a root
	// bound to the nil ID or under an empty name, a root name that is not
	// UTF-8, a nil function given to Update, View, Scan or OnCommit. It
	// aborts the transaction. Start returns it, with every setting
	// refused, for a Config it refuses. Reading the nil ID (a zero Ref) or
	// an empty root name is not invalid: no such object or root exists, so
	// the read returns an error matching ErrNotFound.
	ErrInvalidArgument = errors.New("oss: invalid argument")
	// ErrInvalidHeapName is returned for a heap name that is empty, too
	// long, not UTF-8, holds a control character or uses the reserved
	// prefix "oss:", and for a new heap's name that ends in "*" (which
	// grants read as a prefix) or holds a bidirectional formatting
	// character (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to
	// U+2069); the error names the character and its byte offset. A heap
	// created before a rule refused its name (one holding a control
	// character of U+0080 to U+009F, or a bidirectional one) still opens.
	ErrInvalidHeapName = errors.New("oss: invalid heap name")
	// ErrRetry, returned by an Update function (or through tx.Retry),
	// makes Update wait until something the function read changes, then
	// run it again: retry when changed, without polling. An Update
	// function that returns it must have read something; Update returns
	// ErrInvalidArgument if it read nothing, and never ErrRetry itself.
	// Elsewhere (View, a transaction from Begin) it is returned as any
	// other error of the caller's.
	ErrRetry = errors.New("oss: retry when something read changes")
	// ErrTooLarge is returned by Commit (and Update) when the
	// transaction's commit record exceeds Config.MaxCommitBytes. It is
	// returned at once: the record is never proposed, nothing is written,
	// and the heap goes on with other commits. Every record within the
	// limit fits in the messages and log records that carry it (see
	// Config.MaxFrameBytes). The record holds what the transaction read,
	// to be validated, as well as what it wrote: each object read costs
	// some 20 bytes of it, so an Update that reads some 400,000 objects
	// (Gets them all in a Scan, say) is too large for the default limit
	// however little it writes. Put returns it before encoding a []byte or
	// string value longer than the limit, and the transaction aborts.
	// The error is a *TooLargeError.
	ErrTooLarge = errors.New("oss: commit record too large")
	// ErrCorrupt is returned by Start when what the node kept in
	// Config.DataDir or Config.StripeDirs fails its checks, so that the
	// node cannot trust it. Moving those directories aside and starting
	// the node empty, with Join, rebuilds its replicas from its peers.
	ErrCorrupt = errors.New("oss: the node's data is damaged")
	// ErrNoSnapshot is returned by Event.View for an EventChange, which
	// carries no state to read.
	ErrNoSnapshot = errors.New("oss: event carries no snapshot")
	// ErrPermission is returned when a client node, or a client of the
	// admin interface, lacks the grant a call needs (see Grant); the
	// error says who lacks which permission on which heap.
	ErrPermission = errors.New("oss: permission denied")
	// ErrJoinRefused is returned by Start when the cluster refused the
	// node's join for good, as when a node of the same name is live at
	// another address: trying again helps only once that has changed.
	// The error says who refused and why.
	ErrJoinRefused = errors.New("oss: join refused")
)

// ConflictError describes a conflict: the first read found stale. It matches
// ErrConflict.
type ConflictError struct {
	// ID is the object whose read was stale, or uuid.Nil.
	ID uuid.UUID
	// Root is the named root whose read was stale, or "".
	Root string
	// Scan is set when an enumeration of the heap was invalidated by a
	// concurrent creation or deletion.
	Scan bool
	// Hot is how many conflicts the same object (root, scan) has made on
	// the heap lately, this one included, as Heap.Hot counts them
	// (HotObject.Lately, rounded); 0 if not known.
	Hot uint64
	// Attempts is set by Update when it gives up: how many times it ran
	// the transaction (Config.MaxRetries + 1; 1 when MaxRetries is
	// negative, no retries). Zero from Commit, which does not retry.
	Attempts int
}

func (e *ConflictError) Error() string {
	var s string
	switch {
	case e.Root != "":
		s = fmt.Sprintf("oss: transaction conflict on root %q", e.Root)
	case e.Scan:
		s = "oss: transaction conflict: the heap's objects were created or deleted since the scan"
	case e.ID == uuid.Nil:
		s = ErrConflict.Error()
	default:
		s = fmt.Sprintf("oss: transaction conflict on object %v", e.ID)
	}
	switch {
	case e.Hot > 0 && e.Attempts > 0:
		s += fmt.Sprintf(" (gave up after %d attempts; %d conflicts on it lately: see Heap.Hot)", e.Attempts, e.Hot)
	case e.Hot > 0:
		s += fmt.Sprintf(" (%d conflicts on it lately: see Heap.Hot)", e.Hot)
	case e.Attempts > 0:
		s += fmt.Sprintf(" (gave up after %d attempts)", e.Attempts)
	}
	return s
}

// Is reports whether target is ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// errClosedUndecided is the cause of an unknown outcome when the heap
// closed before the decision; unlike ErrClosed it does not say that
// nothing was committed.
var errClosedUndecided = errors.New("oss: heap closed before the commit was decided")

// UnknownOutcomeError is returned when a commit's outcome could not be
// learned. It matches ErrCommitUnknown and unwraps to its cause;
// ErrCommitUnknown says how to settle the outcome.
type UnknownOutcomeError struct {
	Err error
}

func (e *UnknownOutcomeError) Error() string {
	if e.Err == nil {
		return ErrCommitUnknown.Error()
	}
	return fmt.Sprintf("oss: commit outcome unknown: %v", e.Err)
}

// Is reports whether target is ErrCommitUnknown.
func (e *UnknownOutcomeError) Is(target error) bool { return target == ErrCommitUnknown }

// Unwrap returns the cause.
func (e *UnknownOutcomeError) Unwrap() error { return e.Err }

// TooLargeError reports a commit record over the configured cap. It matches
// ErrTooLarge.
type TooLargeError struct {
	// Size is the commit record's size and Max the limit, in bytes.
	Size, Max int
	// Value says Size is the length of one value that Put refused
	// before encoding it, a commit record of it being larger still.
	Value bool
	// Reads and Writes are how many objects and roots the refused
	// record's transaction read and wrote (zero when Value is set): a
	// record carries every read, an ID and a version of some 20 bytes,
	// so that it can be validated, as well as every write.
	Reads, Writes int
	// atLeast says Size is the least the record would have been: a
	// write refused as the transaction buffered it (Tx.overBuffered).
	atLeast bool
}

func (e *TooLargeError) Error() string {
	if e.Value {
		return fmt.Sprintf("oss: value of %d bytes exceeds the commit record limit of %d bytes (Config.MaxCommitBytes)", e.Size, e.Max)
	}
	if e.atLeast {
		return fmt.Sprintf("oss: commit record of at least %d bytes exceeds the limit of %d bytes (Config.MaxCommitBytes): "+
			"the transaction's %d writes of objects and roots do not fit in one, and it took no more; "+
			"write in smaller transactions", e.Size, e.Max, e.Writes)
	}
	return fmt.Sprintf("oss: commit record of %d bytes exceeds the limit of %d bytes (Config.MaxCommitBytes): "+
		"it holds the %d objects and roots the transaction read, as well as the %d it wrote; "+
		"write in smaller transactions, and read in a View what needs no validation", e.Size, e.Max, e.Reads, e.Writes)
}

// Is reports whether target is ErrTooLarge.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// DecodeError reports a stored value that could not be decoded into the
// requested type. The transaction it happened in is aborted.
type DecodeError struct {
	ID   uuid.UUID
	Type reflect.Type
	Err  error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("oss: object %v does not decode as %v: %v", e.ID, e.Type, e.Err)
}

// Unwrap returns the decoder's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// EncodeError reports a value that could not be encoded. The transaction it
// happened in is aborted.
type EncodeError struct {
	ID   uuid.UUID
	Type reflect.Type
	Err  error
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("oss: value of type %v for object %v cannot be encoded: %v", e.Type, e.ID, e.Err)
}

// Unwrap returns the encoder's error.
func (e *EncodeError) Unwrap() error { return e.Err }

// OnCommitPanic is the value Update and Commit panic with when an OnCommit
// function panicked: the transaction had committed, at Index, and the
// other OnCommit functions ran. Value is what the function panicked with
// and Stack its stack then.
type OnCommitPanic struct {
	Index uint64
	Value any
	Stack []byte
}

func (p *OnCommitPanic) Error() string {
	return fmt.Sprintf("oss: an OnCommit function panicked after the transaction committed at index %d: %v\n%s", p.Index, p.Value, p.Stack)
}

// Unwrap returns Value if it is an error.
func (p *OnCommitPanic) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}
