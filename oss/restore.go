package oss

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/consistency"
)

// RestoreOptions configure Node.RestoreHeap. A nil *RestoreOptions means
// the defaults.
type RestoreOptions struct {
	// Replicas is the number of voters of the heap restored, as
	// HeapOptions.Replicas. If zero, Config.Replicas.
	Replicas int
}

// RestoreInfo describes a restore that Node.RestoreHeap carried out.
type RestoreInfo struct {
	// Backup is what the backup held (its heap's name is the one it was
	// taken of, not necessarily the one restored).
	Backup BackupInfo
	// Commits is how many commits wrote it.
	Commits int
	// Index is the log index of the restored heap's last commit.
	Index uint64
}

// errRestoreDropped is wrapped by RestoreHeap's errors after it created
// the heap: it dropped the heap again, so nothing of the backup was kept.
var errRestoreDropped = errors.New("the heap this restore created was dropped again: nothing was kept")

// restoreOverhead is what a commit record takes beyond its writes, and
// restoreItem what it takes for each object or root beyond the value's or
// the name's bytes (consistency's record encoding takes at most 28): an
// estimate, larger than the encoding, by which a batch is filled. Whether
// it fits is the encoded record's size (restoreBatch.commitItems).
const (
	restoreOverhead = 64
	restoreItem     = 32
)

// RestoreHeap creates the heap name and writes into it the objects and
// roots of the backup r holds (one Heap.Backup wrote, of this heap or of
// any other, in this cluster or another), under their IDs, with their
// stored values byte for byte. The heap must not exist: if it does, the
// error matches ErrHeapExists and nothing is written. The backup's
// header is checked before the heap is created.
//
// The objects are written in commits of at most Config.MaxCommitBytes
// each, as they are read (what RestoreHeap holds is one commit's worth),
// and the roots after the last object, in as few commits as fit (one,
// unless they are more than a commit holds; that one once the whole
// backup has been read and checked). An application that finds its
// objects from roots therefore never sees a partial graph; a transaction
// that enumerates the heap (Tx.Scan) meanwhile can see some of the
// objects. The objects get new versions, those of the restored heap's log.
//
// The name is checked, as CreateHeap checks it, before r is read. An
// object or root that fits in no commit of this node's MaxCommitBytes is
// an error matching ErrTooLarge (not ErrBadBackup: a node with a larger
// limit restores the backup).
//
// If anything fails once the heap's catalog entry may exist (its replica
// not opened here, which matches ErrCreatedNotOpen, or its creation's
// outcome unknown, ErrCommitUnknown; a backup that fails its checks,
// which is an error matching ErrBadBackup naming the offset, a read of r,
// a commit refused, ctx ending), RestoreHeap drops the heap it created
// and returns an error that says what happened and that nothing was
// kept. It drops that heap only, the catalog entry it created: a heap
// dropped meanwhile, or dropped and created again under the name by
// someone else, is left as it is. If the drop fails too (the catalog has
// no quorum, the node closed), the error is a *RestoreLeftError, which
// still matches the restore's own error and names the heap's group, for
// DropHeapOfGroup to drop that heap, and no other, later. A creation of
// unknown outcome whose entry the drop does not find may still commit
// (not seen is no answer, see ErrCommitUnknown): the error says so, and
// names the guarded drop of its groups. The heap is not
// closed to others while the restore runs: what they write into it
// meanwhile is dropped with it if the restore fails.
func (n *Node) RestoreHeap(ctx context.Context, name string, r io.Reader, opts *RestoreOptions) (RestoreInfo, error) {
	var info RestoreInfo
	if r == nil {
		return info, fmt.Errorf("%w: RestoreHeap from a nil io.Reader", ErrInvalidArgument)
	}
	if err := restoreName(name); err != nil {
		return info, err
	}
	br := newBackupReader(r, n.cfg.MaxCommitBytes)
	if err := br.start(); err != nil {
		return info, fmt.Errorf("oss: restore of heap %s: %w; nothing was created", quoteName(name), err)
	}
	var hopts *HeapOptions
	if opts != nil {
		hopts = &HeapOptions{Replicas: opts.Replicas}
	}
	h, err := n.CreateHeap(ctx, name, hopts)
	if err != nil {
		return info, n.restoreNotOpened(ctx, name, err)
	}
	info, err = restoreInto(ctx, h, br)
	if err != nil {
		return info, n.dropRestored(ctx, name, []uint64{h.group}, false, err)
	}
	return info, nil
}

// restoreName refuses a name no new heap may have, as CreateHeap would,
// before anything of the backup is read.
func restoreName(name string) error {
	if err := validHeapName(name); err != nil {
		return err
	}
	if strings.HasPrefix(name, systemPrefix) {
		return fmt.Errorf("%w %q: the prefix %q is reserved", ErrInvalidHeapName, name, systemPrefix)
	}
	return newHeapName(name)
}

// restoreNotOpened is RestoreHeap's error when its CreateHeap failed
// with err: the heap may have been created all the same (its replica
// not opened, or the creation's outcome unknown), and is then dropped as
// a failed restore's is (dropRestored), only if its entry is the one this
// restore created: an empty heap left under the name would refuse the
// next restore of it as existing, and open empty.
func (n *Node) restoreNotOpened(ctx context.Context, name string, err error) error {
	var cn *createdNotOpen
	var eu *entryUnknown
	switch {
	case errors.As(err, &cn) && cn.open != nil:
		// Not the advice to open it with Heap: it is dropped.
		err = fmt.Errorf("%w: the heap was created, and its replica on this node did not open: %v", ErrCreatedNotOpen, cn.open)
		return n.dropRestored(ctx, name, []uint64{cn.group}, false, err)
	case errors.As(err, &cn):
		return n.dropRestored(ctx, name, []uint64{cn.group}, false, err)
	case errors.As(err, &eu):
		return n.dropRestored(ctx, name, eu.groups, true, err)
	case errors.Is(err, ErrCommitUnknown):
		// No try proposed a new entry: it found one, or failed before.
		return fmt.Errorf("oss: restore of heap %s: %w; nothing of the backup was written (Node.Heaps, or ossd heaps, lists the heaps)", quoteName(name), err)
	}
	return fmt.Errorf("oss: restore of heap %s: %w; nothing was written", quoteName(name), err)
}

// dropRestoredWait bounds the drop of a heap a failed restore created,
// which runs on whatever ctx's state.
const dropRestoredWait = 30 * time.Second

// dropRestored drops the heap a failed restore created, the catalog entry
// of one of groups (one, unless its creation's outcome was unknown and
// it was tried again: then at most one of them was created), and returns
// the restore's error, cause, saying so. The entry is read and deleted in
// one catalog transaction, and only if it is still of such a group: a
// heap dropped meanwhile, or dropped and created again by someone else,
// is left as it is (a name alone would drop theirs). With unknown (the
// creation's outcome was), an entry not found is no answer: the error
// says so (unknownNotThere). If the drop fails, the error is a
// *RestoreLeftError, which says how to drop that heap, and no other,
// later.
func (n *Node) dropRestored(ctx context.Context, name string, groups []uint64, unknown bool, cause error) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dropRestoredWait)
	defer cancel()
	open := n.replicaOf(name)
	var err error
	if f := n.restoreDropFault; f != nil {
		err = f()
	} else {
		_, err = n.deleteEntry(dctx, name, groups)
	}
	switch {
	case err == errNothingThere && unknown:
		return unknownNotThere(name, groups, cause)
	case err == errNothingThere:
		return fmt.Errorf("oss: restore of heap %s: %w; the heap it created was dropped meanwhile, and a heap of that name now (if any) is another's, left as it is: nothing of the backup was kept", quoteName(name), cause)
	case err != nil:
		return &RestoreLeftError{Heap: name, Groups: groups, Err: cause, Drop: dropFailure(dctx, err)}
	}
	n.syncCatalog()
	if open != nil && slices.Contains(groups, open.group) {
		select {
		case <-open.done:
		case <-dctx.Done():
		}
	}
	return fmt.Errorf("oss: restore of heap %s: %w; %w", quoteName(name), cause, errRestoreDropped)
}

// unknownNotThere is the error of a restore whose creation's outcome was
// unknown, cause, and whose entry (of one of groups) its drop did not
// find in the catalog. Not seen is no answer: its record may still be on
// its way to the catalog's log, and commit after the read, which wrote
// nothing its record would conflict with (ErrCommitUnknown). It used to
// say the heap was never created, and that a heap of the name found
// later was another's: this restore's, empty, if it is of such a group.
func unknownNotThere(name string, groups []uint64, cause error) error {
	gs := make([]string, len(groups))
	cmds := make([]string, len(groups))
	for i, g := range groups {
		gs[i] = strconv.FormatUint(g, 10)
		cmds[i] = `"` + shellCommand("ossd heaps drop --group "+gs[i], name) + `"`
	}
	return fmt.Errorf("oss: restore of heap %s: %w; the heap was not in the catalog when the restore went to drop it: never created, or its creation's record had yet to commit, and may still. Nothing of the backup was written. "+
		"A heap of that name of group %s (\"ossd heaps\" lists the GROUP) is this restore's, empty, and %s (Node.DropHeapOfGroup) drops it alone; one of another group is another caller's", quoteName(name), cause, strings.Join(gs, " or "), strings.Join(cmds, " or "))
}

// dropFailure says why dropRestored's catalog transaction failed, err, in
// its reader's terms: a drop that found nothing to drop in the node's
// replica of the catalog and could not check that with its leader is
// said as that check's failure (no quorum, the node closed), not as the
// transaction's internal error.
func dropFailure(ctx context.Context, err error) error {
	var ue *uncheckedError
	if errors.As(err, &ue) && ue.ferr == errNothingThere {
		return fmt.Errorf("whether it is still in the catalog could not be checked: %w", unanswered(ctx, ue.err))
	}
	return unanswered(ctx, err)
}

// RestoreLeftError is Node.RestoreHeap's error when the restore failed,
// Err (which the error matches: ErrBadBackup, ErrTooLarge, a read's
// error, ctx's), and the heap it had created could not be dropped again,
// Drop saying why (the catalog had no quorum, the node closed): that
// heap may be left behind, empty or holding part of the backup, under
// the name Heap. Its group is one of Groups (one, unless the creation's
// outcome was unknown and it was tried again; then at most one was
// created). Node.DropHeapOfGroup(ctx, Heap, group), or "ossd heaps drop
// --group G NAME", drops it once the catalog answers, and only it: a
// heap of the name created since by anyone else has another group, and
// is left as it is, where a drop by name would remove it.
type RestoreLeftError struct {
	Heap   string
	Groups []uint64
	Err    error
	Drop   error
}

func (e *RestoreLeftError) Error() string {
	groups := make([]string, len(e.Groups))
	cmds := make([]string, len(e.Groups))
	for i, g := range e.Groups {
		groups[i] = strconv.FormatUint(g, 10)
		cmds[i] = `"` + shellCommand("ossd heaps drop --group "+groups[i], e.Heap) + `"`
	}
	return fmt.Sprintf("oss: restore of heap %s failed: %v. The heap it created may be left behind, empty or holding part of the backup, "+
		"under that name as group %s: dropping it failed (%v). Once the cluster answers, \"ossd heaps\" lists the heaps with their GROUP "+
		"(a heap of that name with another group is another caller's, not this restore's), and %s (Node.DropHeapOfGroup) drops it only if "+
		"the heap of that name is still of that group; a drop by name alone could remove another caller's heap. Then restore again",
		quoteName(e.Heap), e.Err, strings.Join(groups, " or "), e.Drop, strings.Join(cmds, " or "))
}

func (e *RestoreLeftError) Unwrap() error { return e.Err }

// restoreBatch is the writes of one commit a restore has yet to make:
// objects or roots, never both (every object is committed before the
// first root), with the offsets of their records.
type restoreBatch struct {
	h       *Heap
	ctx     context.Context
	max     int
	size    int
	objects []consistency.Write
	roots   []consistency.RootWrite
	offs    []int64
	info    *RestoreInfo
}

// restoreInto reads the rest of the backup, writing it into h.
func restoreInto(ctx context.Context, h *Heap, br *backupReader) (RestoreInfo, error) {
	info := RestoreInfo{}
	b := &restoreBatch{h: h, ctx: ctx, max: h.cfg.MaxCommitBytes, size: restoreOverhead, info: &info}
	if err := h.authorizeWrite(ctx, false); err != nil {
		return info, err
	}
	for i := 0; !br.ended; i++ {
		if i%backupCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return info, fmt.Errorf("at offset %d of the backup: %w", br.off, err)
			}
		}
		rec, err := br.next()
		if err != nil {
			return info, err
		}
		switch rec.kind {
		case recObject:
			err = b.addObject(rec)
		case recRoot:
			err = b.addRoot(rec)
		}
		if err != nil {
			return info, err
		}
	}
	if err := b.flush(); err != nil {
		return info, err
	}
	info.Backup = br.info
	return info, nil
}

// add makes room for an item of need estimated bytes, committing what
// the batch holds if the item would take it over the limit by the
// estimate. An item over it alone is tried alone: its encoded record may
// fit (commitItems says if it does not).
func (b *restoreBatch) add(need int, off int64) error {
	if b.size+need > b.max && len(b.offs) > 0 {
		if err := b.flush(); err != nil {
			return err
		}
	}
	b.size += need
	b.offs = append(b.offs, off)
	return nil
}

func (b *restoreBatch) addObject(rec backupRecord) error {
	if err := b.add(restoreItem+len(rec.value), rec.off); err != nil {
		return err
	}
	value := make([]byte, len(rec.value))
	copy(value, rec.value)
	b.objects = append(b.objects, consistency.Write{ID: rec.id, Value: value})
	return nil
}

func (b *restoreBatch) addRoot(rec backupRecord) error {
	if len(b.objects) > 0 {
		// Every object is committed before the first root.
		if err := b.flush(); err != nil {
			return err
		}
	}
	if err := validRootName(rec.name, b.max); err != nil {
		// The reader refused an empty name and one not UTF-8: this one
		// is longer than this node's commits may be.
		return fmt.Errorf("%w: at offset %d of the backup: %v; the backup is not damaged: restore it on a node whose MaxCommitBytes is larger", ErrTooLarge, rec.off, err)
	}
	if err := b.add(restoreItem+len(rec.name), rec.off); err != nil {
		return err
	}
	b.roots = append(b.roots, consistency.RootWrite{Name: rec.name, ID: rec.id})
	return nil
}

// flush commits the batch's writes, if any.
func (b *restoreBatch) flush() error {
	objects, roots, offs := b.objects, b.roots, b.offs
	b.objects, b.roots, b.offs, b.size = nil, nil, nil, restoreOverhead
	if len(offs) == 0 {
		return nil
	}
	return b.commitItems(objects, roots, offs)
}

// commitItems commits objects or roots (one of them is empty), offs
// their records' offsets, in one commit if its encoded record fits in
// MaxCommitBytes, else in halves, each the same way. An item that does
// not fit alone is too large for this node: an error matching
// ErrTooLarge, not ErrBadBackup (a node with a larger limit restores it).
func (b *restoreBatch) commitItems(objects []consistency.Write, roots []consistency.RootWrite, offs []int64) error {
	h := b.h
	txid, err := newTxID(h.self)
	if err != nil {
		return fmt.Errorf("new transaction ID: %w", err)
	}
	rec := consistency.Record{TxID: txid, Snapshot: h.state.Load().Index(), Writes: objects, RootWrites: roots}
	data, err := rec.Marshal()
	if err != nil {
		return fmt.Errorf("encode commit record: %w", err)
	}
	if len(data) > b.max {
		if len(offs) == 1 {
			return b.tooLarge(objects, roots, offs[0], len(data))
		}
		half := len(offs) / 2
		if len(objects) > 0 {
			if err := b.commitItems(objects[:half], nil, offs[:half]); err != nil {
				return err
			}
			return b.commitItems(objects[half:], nil, offs[half:])
		}
		if err := b.commitItems(nil, roots[:half], offs[:half]); err != nil {
			return err
		}
		return b.commitItems(nil, roots[half:], offs[half:])
	}
	return b.commit(txid, data, len(objects), len(roots))
}

// tooLarge is the error for the one object or root at off whose commit
// record of size bytes is over this node's MaxCommitBytes.
func (b *restoreBatch) tooLarge(objects []consistency.Write, roots []consistency.RootWrite, off int64, size int) error {
	what := ""
	if len(objects) > 0 {
		what = fmt.Sprintf("object %v of %d bytes", objects[0].ID, len(objects[0].Value))
	} else {
		what = fmt.Sprintf("root %s", quoteName(roots[0].Name))
	}
	return fmt.Errorf("%w: at offset %d of the backup, %s needs a commit record of %d bytes, over this node's MaxCommitBytes (%d); the backup is not damaged: restore it on a node whose MaxCommitBytes is larger", ErrTooLarge, off, what, size, b.max)
}

// commit proposes one commit record of the restore, data, and waits for
// it to apply.
func (b *restoreBatch) commit(txid uuid.UUID, data []byte, objects, roots int) error {
	h := b.h
	res, err := h.commit(b.ctx, txid, data)
	if err != nil {
		return fmt.Errorf("commit %d of the restore (%d objects, %d roots): %w", b.info.Commits+1, objects, roots, err)
	}
	switch res.Outcome {
	case consistency.Committed:
	case consistency.Refused:
		return h.refusedError()
	default:
		return fmt.Errorf("commit %d of the restore was not applied (outcome %v at index %d)", b.info.Commits+1, res.Outcome, res.Index)
	}
	h.stats.commits.Add(1)
	b.info.Commits++
	b.info.Index = res.Index
	return nil
}
