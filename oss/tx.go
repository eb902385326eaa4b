package oss

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
)

// Tx is a transaction on one heap. It reads one snapshot of the local
// replica, records what it reads, and buffers its writes until it commits.
// A Tx must be used by one goroutine at a time. A call that finds another
// goroutine inside the transaction returns an error matching
// ErrInvalidArgument and aborts it (its Update, View or Commit returns
// that error, and nothing is written); a use this misses, one that no
// other call overlaps, is ordered after the one before it. After it ends,
// every method that reads, writes or ends it returns ErrTxDone (Index
// still answers, and Retry returns ErrRetry, whatever the state).
type Tx struct {
	heap     *Heap
	snap     *consistency.State
	busy     atomic.Bool // a goroutine is inside a method
	shared   atomic.Bool // a call found another goroutine inside
	readOnly bool
	done     bool
	managed  bool  // run by Update or View, which end it themselves
	err      error // a failure that aborts the transaction whatever fn returns
	*txState       // nil in a View, keeping its Tx small
}

// txState is what a read-write transaction records and buffers.
type txState struct {
	ctx        context.Context
	onCommit   []func()
	index      uint64
	reads      []consistency.Read // in the order first read
	readIdx    map[uuid.UUID]int  // index into reads, once it is long
	rootReads  map[string]uint64
	scanned    bool
	writeList  []consistency.Write
	writeIdx   map[uuid.UUID]int // index into writeList, once it is long
	rootWrites map[string]consistency.RootWrite
	// buffered is the least its commit record could be, in bytes: 16 (an
	// ID) and the value for each buffered write, the name and 16 for each
	// root written. Put, Delete, SetRoot and DeleteRoot refuse a write
	// that would take it over Config.MaxCommitBytes (overBuffered).
	buffered int
	gate     *gateHold // the Update's gate, given up before OnCommit
	// readArr and writeArr hold a transaction's first read and write
	// (reads and writeList start on them, begin): a read-modify-write of
	// one object, the most common Update, appends to no slice of its own.
	readArr  [1]consistency.Read
	writeArr [1]consistency.Write
}

// scanMax is the most reads or writes a transaction looks through for an
// ID before it indexes them in a map: a read-modify-write of a few
// objects then makes no map (each map is two allocations, and a read set
// also kept the IDs in order in a slice of their own).
const scanMax = 8

// readAt returns the index in st.reads of the read of id.
func (st *txState) readAt(id uuid.UUID) (int, bool) {
	if st.readIdx != nil {
		i, ok := st.readIdx[id]
		return i, ok
	}
	for i := range st.reads {
		if st.reads[i].ID == id {
			return i, true
		}
	}
	return 0, false
}

// addRead records a read of an object not read before.
func (st *txState) addRead(r consistency.Read) {
	st.reads = append(st.reads, r)
	switch {
	case st.readIdx != nil:
		st.readIdx[r.ID] = len(st.reads) - 1
	case len(st.reads) > scanMax:
		st.readIdx = make(map[uuid.UUID]int, 2*len(st.reads))
		for i := range st.reads {
			st.readIdx[st.reads[i].ID] = i
		}
	}
}

// writeAt returns the index in st.writeList of the write of id.
func (st *txState) writeAt(id uuid.UUID) (int, bool) {
	if st.writeIdx != nil {
		i, ok := st.writeIdx[id]
		return i, ok
	}
	for i := range st.writeList {
		if st.writeList[i].ID == id {
			return i, true
		}
	}
	return 0, false
}

// Index returns the applied index of the snapshot the transaction reads.
// After a successful commit (for example inside an OnCommit function) it
// returns the log index at which the transaction committed.
func (tx *Tx) Index() uint64 {
	if tx.txState != nil && tx.index != 0 {
		return tx.index
	}
	return tx.snap.Index()
}

// errNilFunc is the error of an Update or View given a nil function.
var errNilFunc = fmt.Errorf("%w: a nil Update or View function", ErrInvalidArgument)

// errTxShared is the error of a transaction used by two goroutines at
// once.
var errTxShared = fmt.Errorf("%w: a Tx used by two goroutines at once (a Tx must be used by one goroutine at a time; nothing of it is written)", ErrInvalidArgument)

// enter marks a goroutine inside the transaction. If another is inside,
// it records the misuse, which aborts the transaction, and returns false:
// the caller must then touch nothing of tx but its atomics.
func (tx *Tx) enter() bool {
	if tx.busy.CompareAndSwap(false, true) {
		return true
	}
	tx.shared.Store(true)
	return false
}

// exit undoes enter.
func (tx *Tx) exit() { tx.busy.Store(false) }

// use enters the transaction for a method and checks that the call may
// go on; on nil the caller exits when done.
func (tx *Tx) use(write bool) error {
	if !tx.enter() {
		return errTxShared
	}
	if err := tx.check(write); err != nil {
		tx.exit()
		return err
	}
	return nil
}

// end ends a transaction its caller has entered.
func (tx *Tx) end() {
	tx.done = true
	tx.exit()
}

// call runs fn, rolling back if fn returns an error or panics (the panic
// goes on unrecovered, with its stack). On nil the caller holds the
// transaction (as enter does) and ends it, by commit or end; otherwise it
// has ended, and if fn shared it with another goroutine call returns
// errTxShared.
func (tx *Tx) call(fn func(*Tx) error) error {
	if fn == nil {
		tx.done = true // no other goroutine has tx yet
		return errNilFunc
	}
	returned := false
	defer func() {
		if !returned && tx.enter() { // fn panicked
			tx.end()
		}
	}()
	err := fn(tx)
	returned = true
	if !tx.enter() {
		return errTxShared // still in use elsewhere: leave it as it is
	}
	switch {
	case tx.shared.Load():
		err = tx.fail(errTxShared)
	case err == nil:
		err = tx.err
	}
	if err != nil {
		tx.end()
	}
	return err
}

// fail records a failure that aborts the transaction.
func (tx *Tx) fail(err error) error {
	if tx.err == nil {
		tx.err = err
	}
	return err
}

func (tx *Tx) check(write bool) error {
	switch {
	case tx.done:
		return ErrTxDone
	case write && tx.readOnly:
		return ErrReadOnly
	}
	return nil
}

// read returns the object's current value in the transaction: its own
// buffered write, or the snapshot's, recording the read. The caller has
// entered the transaction.
func (tx *Tx) read(id uuid.UUID) ([]byte, error) {
	if tx.txState == nil {
		obj, ok := tx.snap.Get(id)
		if !ok {
			return nil, fmt.Errorf("%w: object %v", ErrNotFound, id)
		}
		return obj.Value, nil
	}
	if i, ok := tx.writeAt(id); ok {
		w := &tx.writeList[i]
		if w.Delete {
			return nil, fmt.Errorf("%w: object %v", ErrNotFound, id)
		}
		return w.Value, nil
	}
	obj, ok := tx.snap.Get(id)
	if _, seen := tx.readAt(id); !seen {
		tx.addRead(consistency.Read{ID: id, Version: obj.Version})
	}
	if !ok {
		return nil, fmt.Errorf("%w: object %v", ErrNotFound, id)
	}
	return obj.Value, nil
}

func (tx *Tx) write(w consistency.Write) {
	if i, ok := tx.writeAt(w.ID); ok {
		tx.buffered += len(w.Value) - len(tx.writeList[i].Value)
		tx.writeList[i] = w
		return
	}
	tx.buffered += 16 + len(w.Value)
	tx.writeList = append(tx.writeList, w)
	switch {
	case tx.writeIdx != nil:
		tx.writeIdx[w.ID] = len(tx.writeList) - 1
	case len(tx.writeList) > scanMax:
		tx.writeIdx = make(map[uuid.UUID]int, 2*len(tx.writeList))
		for i := range tx.writeList {
			tx.writeIdx[tx.writeList[i].ID] = i
		}
	}
}

// overBuffered returns the *TooLargeError that aborts the transaction if
// buffering a write of an object (a value of size bytes; 0 for a delete)
// or of a root (named by root) took its commit record over
// Config.MaxCommitBytes, and nil if it may be buffered. A transaction
// that kept taking writes after its record could no longer commit would
// hold all of them until Commit refused them (a loop of Puts, say, many
// times the memory the limit suggests), and one whose caller ignored the
// error would grow without bound.
func (tx *Tx) overBuffered(id uuid.UUID, size int, root string, isRoot bool) error {
	grow, added := 16+size, 1
	switch {
	case isRoot:
		if _, ok := tx.rootWrites[root]; ok {
			return nil
		}
		grow = 16 + len(root)
	default:
		if i, ok := tx.writeAt(id); ok {
			grow, added = size-len(tx.writeList[i].Value), 0
		}
	}
	max := tx.heap.cfg.MaxCommitBytes
	if n := tx.buffered + grow; grow > 0 && n > max {
		return tx.fail(&TooLargeError{Size: n, Max: max, atLeast: true,
			Reads: len(tx.reads) + len(tx.rootReads), Writes: len(tx.writeList) + len(tx.rootWrites) + added})
	}
	return nil
}

// Get reads the object with the given ID and decodes it as a T. It returns
// an error matching ErrNotFound if the object does not exist, and a
// *DecodeError, which aborts the transaction, if its value does not decode
// as a T (a map read as an int, a string as a slice).
//
// Values are CBOR, and a struct decodes by field name as encoding/json
// decodes: fields the value lacks stay zero and fields T lacks are
// skipped, so that a struct type can gain and lose fields while objects
// written with its old shape stay readable. A struct value read as
// another struct type therefore decodes without error, holding the
// fields the two share. As in encoding/json too, a struct is kept as its
// exported fields alone, named as a cbor or json tag says (Put of a
// struct whose fields are all unexported keeps an empty map, and Get
// returns its zero value), and a Go array takes as many elements as it
// holds: the rest of a longer stored array is dropped, without error. A time.Time is kept as encoding/json keeps it,
// RFC 3339 text to the nanosecond: it reads back as the same instant in
// the same zone offset (a time.FixedZone, or UTC), without its monotonic
// reading or its location's name. What an interface (any) holds decodes
// as CBOR's own types, not encoding/json's: nil, bool, uint64 (int64 if
// negative), float64, string, []byte, []any and map[any]any, a map of
// string keys included, at every level (json.Marshal refuses
// map[any]any: read into structs and typed maps for a value to marshal).
func Get[T any](tx *Tx, id uuid.UUID) (T, error) {
	var v T
	if err := tx.use(false); err != nil {
		return v, err
	}
	defer tx.exit()
	data, err := tx.read(id)
	if err != nil {
		return v, err
	}
	if err := codec.Unmarshal(data, &v); err != nil {
		return v, tx.fail(&DecodeError{ID: id, Type: reflect.TypeFor[T](), Err: err})
	}
	return v, nil
}

// Exists reports whether the object exists in the transaction's view of
// the heap: its snapshot with its own writes. A read of the snapshot is
// recorded, as Get records it; see Version for the snapshot's version.
func (tx *Tx) Exists(id uuid.UUID) (bool, error) {
	if err := tx.use(false); err != nil {
		return false, err
	}
	defer tx.exit()
	_, err := tx.read(id)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	}
	return false, err
}

// Put sets the object with the given ID to v, creating it if needed. A
// value that cannot be encoded returns an *EncodeError and aborts the
// transaction; so does one that Get of T could not decode again: nested
// deeper than 32 levels of arrays, maps and structs (a cyclic value
// included), with an array or map of more than 4,194,304 elements, with
// map keys that encode alike (int(1) and int64(1) in a map[any]T), with
// a string that is not UTF-8 (values are CBOR, whose text must be: keep
// other bytes in a []byte), or that T cannot hold as decoded (what an
// interface holds decodes as Get says, as a map[any]any for a map, so a
// map keyed by arrays put as any is refused, and anything put as an
// error).
// A []byte or string value (of a named type too, unless it has a
// marshaling method of its own) longer than Config.MaxCommitBytes returns
// a *TooLargeError at once, unencoded, and aborts the transaction: its
// commit record could not be sent. So does a write (Put, Delete, SetRoot,
// DeleteRoot) that takes the transaction's buffered writes, each value or
// root name with 16 bytes for its ID, over Config.MaxCommitBytes, at any
// moment: a write that would shrink them later (a smaller value, a
// Delete of an object put before) does not undo the refusal, which
// aborts the transaction, so that its buffered writes stay bounded by
// the limit (later writes that fit are still taken, and the transaction
// still fails). (A record that its reads or
// encoding take over the limit is found when the transaction commits,
// as ErrTooLarge.)
func Put[T any](tx *Tx, id uuid.UUID, v T) error {
	if err := tx.use(true); err != nil {
		return err
	}
	defer tx.exit()
	if id == uuid.Nil {
		return tx.fail(fmt.Errorf("%w: Put with the nil object ID", ErrInvalidArgument))
	}
	if n := codec.RawLen(v); n > tx.heap.cfg.MaxCommitBytes {
		return tx.fail(&TooLargeError{Size: n, Max: tx.heap.cfg.MaxCommitBytes, Value: true})
	}
	data, err := codec.MarshalValue(v)
	if err != nil {
		typ := reflect.TypeFor[T]()
		if typ.Kind() == reflect.Interface && any(v) != nil {
			typ = reflect.TypeOf(v) // name what was passed, not any
		}
		return tx.fail(&EncodeError{ID: id, Type: typ, Err: err})
	}
	if err := tx.overBuffered(id, len(data), "", false); err != nil {
		return err
	}
	tx.write(consistency.Write{ID: id, Value: data})
	return nil
}

// New creates an object holding v under a new version 7 UUID and returns a
// reference to it. Its errors are Put's.
func New[T any](tx *Tx, v T) (Ref[T], error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Ref[T]{}, fmt.Errorf("oss: new object ID: %w", err)
	}
	if err := Put(tx, id, v); err != nil {
		return Ref[T]{}, err
	}
	return Ref[T]{ID: id}, nil
}

// Delete removes the object with the given ID. Deleting an object that does
// not exist is not an error. Delete does not read the object: two
// transactions that both delete it both commit.
func (tx *Tx) Delete(id uuid.UUID) error {
	if err := tx.use(true); err != nil {
		return err
	}
	defer tx.exit()
	if err := tx.overBuffered(id, 0, "", false); err != nil {
		return err
	}
	tx.write(consistency.Write{ID: id, Delete: true})
	return nil
}

// Root returns the object ID bound to the named root, or an error matching
// ErrNotFound. A name that SetRoot refuses (not UTF-8, longer than
// Config.MaxCommitBytes) returns an error matching ErrInvalidArgument and
// aborts the transaction.
func (tx *Tx) Root(name string) (uuid.UUID, error) {
	if err := tx.use(false); err != nil {
		return uuid.Nil, err
	}
	defer tx.exit()
	if err := checkRootName(name, tx.heap.cfg.MaxCommitBytes); err != nil {
		return uuid.Nil, tx.fail(err)
	}
	var w consistency.RootWrite
	var written bool
	if tx.txState != nil {
		w, written = tx.rootWrites[name]
	}
	if written {
		if w.Delete {
			return uuid.Nil, fmt.Errorf("%w: root %q", ErrNotFound, name)
		}
		return w.ID, nil
	}
	r, ok := tx.snap.Root(name)
	if tx.txState != nil {
		if tx.rootReads == nil {
			tx.rootReads = make(map[string]uint64)
		}
		if _, seen := tx.rootReads[name]; !seen {
			tx.rootReads[name] = r.Version
		}
	}
	if !ok {
		return uuid.Nil, fmt.Errorf("%w: root %q", ErrNotFound, name)
	}
	return r.ID, nil
}

// SetRoot binds the named root to an object ID. An empty name, a name
// that is not UTF-8 or is longer than Config.MaxCommitBytes, or the nil
// ID returns an error matching ErrInvalidArgument and aborts the
// transaction: no commit record could carry such a name, and a root
// bound to the nil ID would point nowhere (DeleteRoot removes a root).
// Node.CheckRootName checks a name before any transaction. The object need not
// exist: SetRoot does not read it, and Get through a root bound to an
// object deleted or never created returns ErrNotFound.
func (tx *Tx) SetRoot(name string, id uuid.UUID) error {
	if err := tx.use(true); err != nil {
		return err
	}
	defer tx.exit()
	if err := validRootName(name, tx.heap.cfg.MaxCommitBytes); err != nil {
		return tx.fail(err)
	}
	if id == uuid.Nil {
		return tx.fail(fmt.Errorf("%w: root %s bound to the nil object ID", ErrInvalidArgument, quoteName(name)))
	}
	if err := tx.overBuffered(uuid.Nil, 0, name, true); err != nil {
		return err
	}
	if tx.rootWrites == nil {
		tx.rootWrites = make(map[string]consistency.RootWrite)
	}
	if _, ok := tx.rootWrites[name]; !ok {
		tx.buffered += 16 + len(name)
	}
	tx.rootWrites[name] = consistency.RootWrite{Name: name, ID: id}
	return nil
}

// DeleteRoot removes the named root. Removing a root that does not exist is
// not an error; a name that SetRoot refuses (not UTF-8, longer than
// Config.MaxCommitBytes) is, matching ErrInvalidArgument, and aborts the
// transaction.
func (tx *Tx) DeleteRoot(name string) error {
	if err := tx.use(true); err != nil {
		return err
	}
	defer tx.exit()
	if err := checkRootName(name, tx.heap.cfg.MaxCommitBytes); err != nil {
		return tx.fail(err)
	}
	if err := tx.overBuffered(uuid.Nil, 0, name, true); err != nil {
		return err
	}
	if tx.rootWrites == nil {
		tx.rootWrites = make(map[string]consistency.RootWrite)
	}
	if _, ok := tx.rootWrites[name]; !ok {
		tx.buffered += 16 + len(name)
	}
	tx.rootWrites[name] = consistency.RootWrite{Name: name, Delete: true}
	return nil
}

// validRootName is the rule for a name a root can have, as SetRoot,
// Node.CheckRootName and Watch (WatchOptions.Roots, SetInterest) apply it:
// not empty, and checkRootName's. It returns an error matching
// ErrInvalidArgument that says which part of the rule the name breaks.
func validRootName(name string, max int) error {
	if name == "" {
		return fmt.Errorf("%w: empty root name", ErrInvalidArgument)
	}
	return checkRootName(name, max)
}

// checkRootName refuses a root name that is not UTF-8 (a commit record
// carries root names as CBOR text, which every replica would refuse to
// decode) or that is longer than a commit record may be, max bytes
// (Config.MaxCommitBytes): no record holding it could be proposed. It is
// the part of validRootName that DeleteRoot applies too, which takes the
// empty name (no root has it: there is nothing to delete).
func checkRootName(name string, max int) error {
	if len(name) > max {
		return fmt.Errorf("%w: root name %s is longer than a commit record may be (Config.MaxCommitBytes, %d bytes)", ErrInvalidArgument, quoteName(name), max)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: root name %s is not UTF-8", ErrInvalidArgument, quoteName(name))
	}
	return nil
}

// quoteName quotes a name for an error, cut after 64 bytes (with its
// length) if it is longer.
func quoteName(name string) string {
	if len(name) <= 64 {
		return strconv.Quote(name)
	}
	return fmt.Sprintf("%q... (%d bytes)", name[:64], len(name))
}

// Scan calls fn with the ID of every object in the transaction's view of
// the heap (its snapshot with its own writes), in ID order, until fn returns
// false. Version 7 IDs sort by creation time. In an Update, a scan makes the
// transaction conflict with any concurrent creation or deletion of an
// object, so what it enumerated cannot change under it (no phantoms).
//
// fn may use the transaction (the scan leaves it while fn runs); if it
// ends it (Commit or Rollback of a transaction from Begin), the scan stops
// there and returns ErrTxDone. A nil fn is an error matching
// ErrInvalidArgument, which aborts the transaction.
func (tx *Tx) Scan(fn func(id uuid.UUID) bool) error {
	if err := tx.use(false); err != nil {
		return err
	}
	if fn == nil {
		defer tx.exit()
		return tx.fail(fmt.Errorf("%w: Scan with a nil function", ErrInvalidArgument))
	}
	inside, ended := true, false
	defer func() {
		if inside {
			tx.exit()
		}
	}()
	visit := fn
	fn = func(id uuid.UUID) bool {
		tx.exit()
		inside = false
		more := visit(id)
		if !tx.enter() {
			return false
		}
		inside = true
		// fn ended the transaction (a Commit or Rollback of one from
		// Begin): the scan stops there.
		ended = tx.done
		return more && !ended
	}
	st := tx.txState
	if st == nil {
		st = &txState{}
	}
	st.scanned = true
	// Objects this transaction creates, merged into the snapshot's order.
	var created []uuid.UUID
	for _, w := range st.writeList {
		if !w.Delete {
			if _, ok := tx.snap.Get(w.ID); !ok {
				created = append(created, w.ID)
			}
		}
	}
	slices.SortFunc(created, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	stopped := false
	tx.snap.Ascend(uuid.Nil, func(o consistency.Object) bool {
		for len(created) > 0 && bytes.Compare(created[0][:], o.ID[:]) < 0 {
			if !fn(created[0]) {
				stopped = true
				return false
			}
			created = created[1:]
		}
		if i, ok := st.writeAt(o.ID); ok && st.writeList[i].Delete {
			return true
		}
		if !fn(o.ID) {
			stopped = true
			return false
		}
		return true
	})
	for _, id := range created {
		if stopped || !fn(id) {
			break
		}
	}
	if !inside {
		return errTxShared
	}
	if ended {
		return ErrTxDone
	}
	return nil
}

// OnCommit registers f to run after the transaction commits, on the
// goroutine that committed it, once, in registration order. It does not run
// if the transaction fails or rolls back, or for an attempt of Update that
// conflicted, nor when Update or Commit returns an error matching
// ErrCommitUnknown: the transaction may then have committed unseen
// (ErrCommitUnknown says how to find out). A View's transaction never
// commits, so f never runs there; a read-only transaction from Begin
// runs it when Commit ends it. Called
// on a transaction that has ended (from an OnCommit function, say),
// OnCommit does nothing.
//
// If f panics, the functions registered after it still run, and then
// Update (or Commit) panics with an *OnCommitPanic holding f's panic
// value and stack: the panic escapes, but a caller that recovers it can
// tell that the transaction committed.
//
// A nil f aborts the transaction: its Update (or Commit) returns an error
// matching ErrInvalidArgument, having written nothing.
func (tx *Tx) OnCommit(f func()) {
	if !tx.enter() {
		return // the transaction is aborted
	}
	defer tx.exit()
	if tx.done {
		return
	}
	if f == nil {
		tx.fail(fmt.Errorf("%w: OnCommit with a nil function (nothing is written)", ErrInvalidArgument))
		return
	}
	if tx.txState == nil {
		tx.txState = &txState{}
	}
	tx.onCommit = append(tx.onCommit, f)
}

// Rollback ends the transaction without committing it. It returns
// ErrTxDone if the transaction has ended already, and, called on the
// transaction of an Update or View function, an error matching
// ErrInvalidArgument (see Commit).
func (tx *Tx) Rollback() error {
	if !tx.enter() {
		return errTxShared
	}
	defer tx.exit()
	if tx.done {
		return ErrTxDone
	}
	if tx.managed {
		return tx.fail(errManaged("Rollback"))
	}
	tx.done = true
	return nil
}

// errManaged is the error of Commit or Rollback called by an Update or
// View function on the transaction it was given, which it does not end.
func errManaged(call string) error {
	return fmt.Errorf("%w: %s of the transaction of an Update or View function: the call ends it itself (return nil to commit, an error to roll back)", ErrInvalidArgument, call)
}

// Commit ends the transaction. A read-write transaction sends its commit
// record to the heap's log and waits for the decision: nil (committed, and
// visible to this node's Views), an error matching ErrConflict (nothing was
// written), one matching ErrPermission (the heap's leader refused the
// record: this node may not write the heap, by the grants the leader's
// catalog replica holds; nothing was written), or one matching
// ErrCommitUnknown. A read-only transaction just ends.
//
// Commit and Rollback are for transactions from Begin: called on the
// transaction an Update or View function is given, they return an error
// matching ErrInvalidArgument and abort it, so that nothing is written.
func (tx *Tx) Commit() error {
	if !tx.enter() {
		return errTxShared
	}
	if tx.done {
		tx.exit()
		return ErrTxDone
	}
	if tx.managed {
		defer tx.exit()
		return tx.fail(errManaged("Commit"))
	}
	return tx.commit()
}

// commit ends the transaction as Commit says; Update calls it for its
// function's transaction. The caller has entered the transaction, and
// commit exits it (before the OnCommit functions, which may call it).
func (tx *Tx) commit() error {
	if tx.done {
		tx.exit()
		return ErrTxDone
	}
	tx.done = true
	if tx.shared.Load() {
		tx.fail(errTxShared)
	}
	tx.exit() // done: a call from now on only reads tx.done
	if tx.err != nil {
		return tx.err
	}
	h := tx.heap
	if tx.readOnly || (len(tx.reads) == 0 && len(tx.rootReads) == 0 && len(tx.writeList) == 0 && len(tx.rootWrites) == 0 && !tx.scanned) {
		if tx.txState != nil {
			tx.index = tx.snap.Index()
			tx.runOnCommit()
		}
		return nil
	}
	txid, err := newTxID(h.self)
	if err != nil {
		return fmt.Errorf("oss: new transaction ID: %w", err)
	}
	rec := consistency.Record{TxID: txid, Snapshot: tx.snap.Index(), Scanned: tx.scanned, Reads: tx.reads, Writes: tx.writeList}
	for name, v := range tx.rootReads {
		rec.RootReads = append(rec.RootReads, consistency.RootRead{Name: name, Version: v})
	}
	for _, w := range tx.rootWrites {
		rec.RootWrites = append(rec.RootWrites, w)
	}
	data, err := rec.Marshal()
	if err != nil {
		return fmt.Errorf("oss: encode commit record: %w", err)
	}
	if len(data) > h.cfg.MaxCommitBytes {
		return &TooLargeError{Size: len(data), Max: h.cfg.MaxCommitBytes,
			Reads: len(rec.Reads) + len(rec.RootReads), Writes: len(rec.Writes) + len(rec.RootWrites)}
	}
	start := time.Now()
	res, err := h.commit(tx.ctx, txid, data)
	h.obs.commit.Observe(time.Since(start).Seconds())
	if err != nil {
		if errors.Is(err, ErrCommitUnknown) {
			h.stats.unknown.Add(1)
		}
		return err
	}
	switch res.Outcome {
	case consistency.Committed:
		h.stats.commits.Add(1)
		tx.index = res.Index
		tx.runOnCommit()
		return nil
	case consistency.Conflicted:
		h.stats.conflicts.Add(1)
		ce := &ConflictError{ID: res.ConflictID, Root: res.ConflictRoot, Scan: res.ConflictScan}
		ce.Hot = h.hotness(ce)
		return ce
	case consistency.Stale:
		// Sent once, and no leader's snapshot passed over entries while
		// it waited (the engine reports either as unknown): no earlier
		// copy was decided, so certainly not applied.
		h.stats.conflicts.Add(1)
		return &ConflictError{}
	case consistency.Refused:
		return h.refusedError()
	}
	return fmt.Errorf("oss: commit record rejected as %v at index %d", res.Outcome, res.Index)
}

func (tx *Tx) hasReads() bool {
	return tx.txState != nil && (len(tx.reads) > 0 || len(tx.rootReads) > 0 || tx.scanned)
}

// checkCurrent checks an ended transaction's reads against the group's
// commit index, without a log entry: it waits until the local replica has
// applied the commit index the leader gives for a read index, then returns
// the first read that state no longer agrees with, or nil if there is
// none. The reads were then current at that index, later than every commit
// acknowledged before the check began: a decision fn took on them is as
// strictly serializable as a commit (a read-only one, at that index).
func (tx *Tx) checkCurrent() (*ConflictError, error) {
	h := tx.heap
	h.stats.checks.Add(1)
	if err := h.freshRead(tx.ctx); err != nil {
		return nil, err
	}
	rs := tx.readSet()
	return rs.staleIn(h.state.Load()), nil
}

// readSet is what a transaction read: the versions it saw, and whether it
// scanned the snapshot at snap.
type readSet struct {
	snap      uint64
	reads     []consistency.Read
	rootReads map[string]uint64
	scanned   bool
}

func (tx *Tx) readSet() readSet {
	if tx.txState == nil {
		return readSet{snap: tx.snap.Index()}
	}
	return readSet{snap: tx.snap.Index(), reads: tx.reads, rootReads: tx.rootReads, scanned: tx.scanned}
}

// staleIn returns the first read that st does not agree with, as the
// replicas would decide a commit record of these reads at st's index, or
// nil if every read is current there. st must not be older than snap.
func (rs *readSet) staleIn(st *consistency.State) *ConflictError {
	for _, r := range rs.reads {
		if st.Version(r.ID) != r.Version {
			return &ConflictError{ID: r.ID}
		}
	}
	for name, v := range rs.rootReads {
		if st.RootVersion(name) != v {
			return &ConflictError{Root: name}
		}
	}
	if rs.scanned && st.ShapeVersion() > rs.snap {
		return &ConflictError{Scan: true}
	}
	return nil
}

// Retry returns ErrRetry, for an Update function to end with
//
//	return tx.Retry()
//
// when what it read says it cannot go on yet: Update then waits until
// something the transaction read changes and runs the function again.
func (tx *Tx) Retry() error { return ErrRetry }

// runOnCommit runs the OnCommit functions of a committed transaction. A
// panic in one does not keep the others from running; the first then
// goes on as an *OnCommitPanic, which says the commit happened.
func (tx *Tx) runOnCommit() {
	if tx.gate != nil {
		tx.gate.drop() // the commit is decided: an OnCommit Update waits for nothing
	}
	var first *OnCommitPanic
	for _, f := range tx.onCommit {
		if p := runRecovered(f); p != nil && first == nil {
			first = p
			first.Index = tx.index
		}
	}
	if first != nil {
		panic(first)
	}
}

// runRecovered runs f, returning what it panicked with, if it did.
func runRecovered(f func()) (p *OnCommitPanic) {
	defer func() {
		if v := recover(); v != nil {
			p = &OnCommitPanic{Value: v, Stack: debug.Stack()}
		}
	}()
	f()
	return nil
}

// Version returns the object's version in the transaction's snapshot:
// the log index of the commit that last wrote it, 0 if it does not exist
// there. The transaction's own writes do not change it (a write gets its
// version when it commits), where Exists counts them. Version records the
// read, even of an object the transaction has written, so that the commit
// fails with ErrConflict if the object changes first: it lets a client
// that read an object earlier, elsewhere, make a write conditional on that
// version.
func (tx *Tx) Version(id uuid.UUID) (uint64, error) {
	if err := tx.use(false); err != nil {
		return 0, err
	}
	defer tx.exit()
	if tx.txState == nil {
		return tx.snap.Version(id), nil
	}
	if i, ok := tx.readAt(id); ok {
		return tx.reads[i].Version, nil
	}
	v := tx.snap.Version(id)
	tx.addRead(consistency.Read{ID: id, Version: v})
	return v, nil
}
