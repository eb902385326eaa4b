package persist

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/objectsharing/oss/internal/codec"
)

// Store is the striped object store: objects spread by a hash of their key
// over W stripes, one per directory (one per disk adds bandwidth). Each
// stripe is an append-only log of segment files, written and read by its
// own goroutine, so a checkpoint writes and a recovery reads all stripes in
// parallel. A manifest, replaced atomically after every checkpoint, says
// how much of each stripe is valid and carries each space's metadata.
//
// A key is a space (a heap) and a 16-byte ID. The store knows nothing of
// what values mean.
//
// Failures. A checkpoint that fails leaves the previous one standing, and
// leaves nothing of itself for a later checkpoint to take in: each stripe
// it wrote to is cut back to where the checkpoint began. A stripe that
// cannot be cut back, whose sync failed (a failed sync is never retried:
// nothing written to that file since its last good sync is trusted), or
// whose new length a manifest that may be in place records (the
// directory's sync failed after the rename) is not written again: the
// next checkpoint starts a new segment, and what the old one holds past
// the length the manifest records is never read. A compaction whose
// manifest may be in place keeps every segment either manifest names.
// Whatever failed, the next start opens the store at the last checkpoint
// whose manifest is in place.
type Store struct {
	fs      FS
	dirs    []string
	stripes []*stripe

	cpMu      sync.Mutex // serializes checkpoints
	compactMu sync.Mutex // serializes compactions
	gen       uint64     // under cpMu: the newest generation a manifest was renamed into place with
	storeID   uint64     // under cpMu: the stripes' store, 0 before any is marked
	marked    []bool     // under cpMu: per stripe, its directory holds its identity (stripeFile)

	// mu protects manifest, indexed, cpActive and the stripes' indexes,
	// which an active checkpoint's goroutines update without it (readers
	// wait on cpDone until it is over).
	mu       sync.Mutex
	manifest Manifest
	indexed  bool // the stripes' indexes cover the manifest
	cpActive bool
	cpDone   *sync.Cond
}

// Object is one object of a checkpoint, or one recovered.
type Object struct {
	Space   string
	ID      [16]byte
	Version uint64
	Value   []byte
	Deleted bool // a tombstone: the object is gone
}

// Manifest is the store's root: what is valid in each stripe, and the
// metadata of each space as of the last checkpoint.
type Manifest struct {
	// Stripes holds, per stripe, the valid length of each segment file.
	Stripes [][]SegmentEnd `cbor:"1,keyasint"`
	// Spaces holds each space's metadata (for a heap: its applied index,
	// roots and raft state), opaque to the store.
	Spaces map[string][]byte `cbor:"2,keyasint"`
	// Gen counts checkpoints.
	Gen uint64 `cbor:"3,keyasint"`
}

// SegmentEnd is a segment file and how much of it is valid.
type SegmentEnd struct {
	_    struct{} `cbor:",toarray"`
	Name string
	Size int64
}

const manifestName = "MANIFEST"

// stripe is one stripe's files; only its goroutine of the moment touches
// them. Its index says where the last record of each live object lies.
type stripe struct {
	dir  string
	cur  File          // opened to append
	name string        // cur's
	size int64         // cur's length as of its last good sync
	top  atomic.Uint64 // the highest segment number used or found
	// fresh: the last segment is not to be written again; the next
	// checkpoint starts a new one.
	fresh bool

	// Of the checkpoint under way, for its cut-back if it fails:
	start      int64 // cur's length when it began
	created    bool  // it created cur
	syncFailed bool  // cur's sync failed: cur is not to be synced again

	// Under Store.mu, or the active checkpoint's:
	idx    map[string]*idIndex // space → ID → last record
	pins   map[string]int      // segments views read
	doomed map[string]bool     // compacted-away segments still pinned

	// Under Store.mu: segments no manifest lists any more whose removal
	// failed; the next compaction tries again (the next open removes
	// them too).
	leftover []string

	stats stripeCounters // see StripeStats
}

// loc is where a record lies in its stripe.
type loc struct {
	seg  uint32 // segment number
	size uint32
	off  int64
}

// OpenStore opens the store over dirs (created if needed) and reads its
// manifest. The directories must stay the same, in the same order, for
// the life of the store: each holds its identity (stripeFile), and one
// listed in another place, or a store opened with more or fewer, is
// refused, as is a directory lacking a segment the manifest lists for it
// (a disk not mounted), before anything in them is changed or created
// (CheckStripeDirs).
func OpenStore(fsys FS, dirs []string) (*Store, error) {
	s, err := verifiedStore(fsys, dirs)
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if err := MakeDir(fsys, d); err != nil {
			return nil, fmt.Errorf("persist: store: %w", err)
		}
	}
	m := s.manifest
	s.indexed = m.Gen == 0 // an empty store's index is empty
	s.gen = m.Gen
	garbage, err := s.scanSegments()
	if err != nil {
		return nil, err
	}
	// The manifest read may not be durable yet (its directory's sync
	// failed after the rename), and the one before it may list what this
	// one does not: it is made durable first, or nothing is removed.
	if slices.ContainsFunc(garbage, func(g []string) bool { return len(g) > 0 }) && fsys.SyncDir(s.dirs[0]) == nil {
		for i, st := range s.stripes {
			for _, name := range garbage[i] {
				if fsys.Remove(filepath.Join(st.dir, name)) != nil {
					st.leftover = append(st.leftover, name)
				}
			}
		}
	}
	return s, nil
}

// CheckStripeDirs reports whether OpenStore would refuse dirs for what
// they hold, reading only: an error matching ErrStripeDirs (see there), a
// *CorruptError (a manifest or an identity that does not decode, a
// segment the manifest lists missing or short), or the error of a read.
// A directory that does not exist reads as empty. A caller checks with it
// before it writes anything of its own into the directories (a lock file,
// the directories themselves), so that a refusal leaves them as they
// were; OpenStore checks again.
func CheckStripeDirs(fsys FS, dirs []string) error {
	_, err := verifiedStore(fsys, dirs)
	return err
}

// verifiedStore is a store over dirs with its manifest read and checked
// against what the directories hold (their identities, the segments the
// manifest lists), without writing anything; a directory that does not
// exist reads as empty.
func verifiedStore(fsys FS, dirs []string) (*Store, error) {
	if len(dirs) == 0 {
		return nil, errors.New("persist: a store needs at least one directory")
	}
	s := &Store{fs: fsys, dirs: dirs, marked: make([]bool, len(dirs))}
	s.cpDone = sync.NewCond(&s.mu)
	for _, d := range dirs {
		s.stripes = append(s.stripes, &stripe{dir: d, idx: map[string]*idIndex{}, pins: map[string]int{}, doomed: map[string]bool{}})
	}
	m, err := s.readManifest()
	if err != nil {
		return nil, err
	}
	if err := s.checkStripeIDs(m); err != nil {
		return nil, err
	}
	if m.Stripes != nil && len(m.Stripes) != len(dirs) {
		return nil, fmt.Errorf("%w: the store was written with %d stripes (its manifest, %s), opened with %d (a store cannot be given more or fewer stripes)", ErrStripeDirs, len(m.Stripes), filepath.Join(dirs[0], manifestName), len(dirs))
	}
	if m.Stripes == nil {
		m.Stripes = make([][]SegmentEnd, len(dirs))
	}
	if m.Spaces == nil {
		m.Spaces = map[string][]byte{}
	}
	s.manifest = m
	for i, d := range dirs {
		names, err := fsys.ReadDir(d)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("persist: store: %w", err)
		}
		if err := s.checkListed(i, names); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// scanSegments numbers new segments past every one found in the stripes'
// directories, listed in the manifest or not, and returns, per stripe,
// those it does not list: left by a compaction a crash interrupted (before
// or after the switch), or by a checkpoint that failed, they are garbage.
// A listed segment missing from its directory is refused first (a
// *CorruptError naming it): the directory is not the stripe the manifest
// speaks of (a disk not mounted, directories listed in another order), or
// the segment was lost, and what the directory holds is nobody's garbage.
func (s *Store) scanSegments() ([][]string, error) {
	m := s.manifest
	garbage := make([][]string, len(s.stripes))
	for i, st := range s.stripes {
		names, err := s.fs.ReadDir(st.dir)
		if err != nil {
			return nil, fmt.Errorf("persist: store: %w", err)
		}
		if err := s.checkListed(i, names); err != nil {
			return nil, err
		}
		for _, name := range names {
			if !strings.HasSuffix(name, ".seg") {
				continue
			}
			st.top.Store(max(st.top.Load(), segmentNumber(name)))
			if m.Gen > 0 && !slices.ContainsFunc(m.Stripes[i], func(e SegmentEnd) bool { return e.Name == name }) {
				garbage[i] = append(garbage[i], name)
			}
		}
		for _, seg := range m.Stripes[i] {
			st.top.Store(max(st.top.Load(), segmentNumber(seg.Name)))
		}
	}
	return garbage, nil
}

// checkListed refuses stripe i if a segment the manifest lists for it is
// missing from its directory (names), or holds fewer bytes than the
// manifest records: segments are synced before the manifest that lists
// them is written, so the directory is not the stripe the manifest speaks
// of (a disk not mounted; directories listed in another order, which a
// store written without stripe identities, whose segments are numbered
// alike in every stripe, shows in no other way), or the segment was lost.
func (s *Store) checkListed(i int, names []string) error {
	st := s.stripes[i]
	for _, seg := range s.manifest.Stripes[i] {
		path := filepath.Join(st.dir, seg.Name)
		why := "it is missing"
		if slices.Contains(names, seg.Name) {
			f, err := s.fs.Open(path)
			if err != nil {
				return fmt.Errorf("persist: store: %w", err)
			}
			size, err := f.Size()
			f.Close()
			if err != nil {
				return fmt.Errorf("persist: store: %w", err)
			}
			if size >= seg.Size {
				continue
			}
			why = fmt.Sprintf("it holds %d bytes of the %d the manifest records", size, seg.Size)
		}
		return &CorruptError{File: path, Reason: fmt.Sprintf("the manifest (%s) lists this segment of stripe %d of %d, and %s (is the directory's disk mounted? are the stripe directories those the store was written with, in their order?)", filepath.Join(s.dirs[0], manifestName), i+1, len(s.dirs), why)}
	}
	return nil
}

// Manifest returns the manifest as of the last checkpoint.
func (s *Store) Manifest() Manifest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.manifest
}

func (s *Store) readManifest() (Manifest, error) {
	var m Manifest
	path := filepath.Join(s.dirs[0], manifestName)
	f, err := s.fs.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("persist: %w", err)
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return m, fmt.Errorf("persist: %w", err)
	}
	if len(b) < 4 {
		return m, &CorruptError{File: path, Reason: "short manifest"}
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return m, &CorruptError{File: path, Reason: "manifest checksum mismatch"}
	}
	if err := cbor.Unmarshal(body, &m); err != nil {
		return m, &CorruptError{File: path, Reason: "manifest does not decode: " + err.Error()}
	}
	return m, nil
}

// writeManifest replaces the manifest atomically: write a new file, sync
// it, rename it over the old one, sync the directory. named reports
// whether m may be in place despite an error: the rename was done, and
// the next start may find either manifest. The caller holds cpMu.
func (s *Store) writeManifest(m Manifest) (named bool, err error) {
	parts, err := manifestParts(m)
	if err != nil {
		return false, err
	}
	dir := s.dirs[0]
	tmp := filepath.Join(dir, manifestName+".tmp")
	f, err := s.fs.Create(tmp)
	if err != nil {
		return false, err
	}
	for _, p := range parts {
		if err = writeAll(f, p); err != nil {
			break
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// The next attempt creates the file anew; the next open ignores it.
		s.fs.Remove(tmp)
		return false, err
	}
	if err := s.fs.Rename(tmp, filepath.Join(dir, manifestName)); err != nil {
		return false, err
	}
	s.gen = max(s.gen, m.Gen)
	return true, s.fs.SyncDir(dir)
}

// nextGen returns the generation of the next manifest: past every one
// that may be in place. The caller holds cpMu.
// manifestParts returns the manifest file's bytes in pieces: the CBOR
// encoding of m, then its CRC-32C (4 bytes, little-endian). A space's
// metadata of more than a few kilobytes (a heap's deduplication memory
// runs to megabytes) is a piece of its own, the caller's slice: written
// from there, not copied into an encoding of the whole. The encoding is
// the CBOR library's for m (a map of keys 1 to 3, nil containers as
// null), with the spaces in name order where the library takes the map's.
func manifestParts(m Manifest) ([][]byte, error) {
	stripes, err := cbor.Marshal(m.Stripes)
	if err != nil {
		return nil, err
	}
	b := append(append([]byte{0xa3, 0x01}, stripes...), 0x02)
	var parts [][]byte
	if m.Spaces == nil {
		b = append(b, cborNull)
	} else {
		b = codec.AppendHead(b, cborMap, uint64(len(m.Spaces)))
		for _, k := range slices.Sorted(maps.Keys(m.Spaces)) {
			b = append(codec.AppendHead(b, cborText, uint64(len(k))), k...)
			v := m.Spaces[k]
			switch {
			case v == nil:
				b = append(b, cborNull)
			case len(v) < 4096:
				b = append(codec.AppendHead(b, cborBytes, uint64(len(v))), v...)
			default:
				parts = append(parts, codec.AppendHead(b, cborBytes, uint64(len(v))), v)
				b = nil
			}
		}
	}
	b = codec.AppendHead(append(b, 0x03), cborUint, m.Gen)
	parts = append(parts, b)
	var sum uint32
	for _, p := range parts {
		sum = crc32.Update(sum, castagnoli, p)
	}
	parts[len(parts)-1] = binary.LittleEndian.AppendUint32(b, sum)
	return parts, nil
}

// CBOR major types and the null value, for manifestParts.
const (
	cborUint  = 0
	cborBytes = 2
	cborText  = 3
	cborMap   = 5
	cborNull  = 0xf6
)

func (s *Store) nextGen() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(s.gen, s.manifest.Gen) + 1
}

// stripeOf returns the stripe an object belongs to.
func (s *Store) stripeOf(space string, id [16]byte) int {
	if len(s.stripes) == 1 {
		return 0
	}
	// FNV-64a, inline: no allocation per object.
	h := uint64(14695981039346656037)
	for i := 0; i < len(space); i++ {
		h = (h ^ uint64(space[i])) * 1099511628211
	}
	for _, b := range id {
		h = (h ^ uint64(b)) * 1099511628211
	}
	return int(h % uint64(len(s.stripes)))
}

// A stripe record:
//
//	length u32 | crc32c u32 | flags u8 | len(space) u16 | space | id [16] | version u64 | value
const storeHeader = 4 + 4

// recordSize is the length of o's record.
func recordSize(o *Object) int { return storeHeader + 1 + 2 + len(o.Space) + 16 + 8 + len(o.Value) }

func appendObject(dst []byte, o *Object) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	var flags byte
	if o.Deleted {
		flags = 1
	}
	dst = append(dst, flags)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(o.Space)))
	dst = append(dst, o.Space...)
	dst = append(dst, o.ID[:]...)
	dst = binary.LittleEndian.AppendUint64(dst, o.Version)
	dst = append(dst, o.Value...)
	body := dst[start+storeHeader:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(body, castagnoli))
	return dst
}

// decodeObject decodes the record at the start of b. Its value is a
// window into b.
func decodeObject(b []byte) (o Object, size int, reason string) {
	space, o, size, reason := decodeRecord(b)
	if reason == "" {
		o.Space = string(space)
	}
	return o, size, reason
}

// decodeRecord is decodeObject that leaves the space a window into b.
func decodeRecord(b []byte) (space []byte, o Object, size int, reason string) {
	if len(b) < storeHeader {
		return nil, o, 0, "short record header"
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n > MaxRecord || len(b) < storeHeader+n {
		return nil, o, 0, "short record"
	}
	body := b[storeHeader : storeHeader+n]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, o, 0, "checksum mismatch"
	}
	if len(body) < 1+2 {
		return nil, o, 0, "short record body"
	}
	o.Deleted = body[0]&1 != 0
	sl := int(binary.LittleEndian.Uint16(body[1:]))
	if len(body) < 3+sl+16+8 {
		return nil, o, 0, "short record body"
	}
	space = body[3 : 3+sl]
	copy(o.ID[:], body[3+sl:])
	o.Version = binary.LittleEndian.Uint64(body[3+sl+16:])
	o.Value = body[3+sl+24:]
	return space, o, storeHeader + n, ""
}

// Checkpoint writes objects (changed since the last checkpoint, or
// tombstones) to their stripes, all stripes in parallel, syncs them, and
// then records the new stripe lengths and the spaces' metadata (a nil value
// removes a space; its name must not be used again, since its records
// stay in the stripes until they are compacted) in a new manifest. Checkpoints are serialized. Until the manifest is replaced the previous checkpoint stands:
// a crash in between loses nothing of it. It returns the bytes written.
func (s *Store) Checkpoint(objs []Object, spaces map[string][]byte) (int64, error) {
	s.cpMu.Lock()
	defer s.cpMu.Unlock()
	if err := s.markStripes(); err != nil {
		return 0, fmt.Errorf("persist: checkpoint: %w", err)
	}
	byStripe := s.byStripe(objs)
	m := s.nextManifest(spaces)
	// While the checkpoint is active each stripe's goroutine updates its
	// index as its I/O finishes; readers of the index (View, Compact) wait
	// until the manifest is in place, or the index is dropped.
	s.mu.Lock()
	indexed := s.indexed
	s.cpActive = true
	s.mu.Unlock()
	total, err := s.writeStripes(objs, byStripe, m.Stripes, indexed)
	if err != nil {
		return 0, s.failCheckpoint(byStripe, indexed, fmt.Errorf("persist: checkpoint: %w", err), false)
	}
	for i, st := range s.stripes {
		if len(byStripe[i]) > 0 {
			m.Stripes[i] = st.ends(m.Stripes[i])
		}
	}
	if named, err := s.writeManifest(m); err != nil {
		if named {
			err = fmt.Errorf("%w (the new manifest may be in place: a restart finds this checkpoint or the previous one, whole)", err)
		}
		return 0, s.failCheckpoint(byStripe, indexed, fmt.Errorf("persist: checkpoint manifest: %w", err), named)
	}
	s.mu.Lock()
	s.manifest = m
	if indexed {
		for k, v := range spaces {
			if v == nil {
				for _, st := range s.stripes {
					st.dropSpace(k)
				}
			}
		}
	}
	s.endCheckpoint()
	s.mu.Unlock()
	return total, nil
}

// byStripe returns the indexes in objs of each stripe's objects.
func (s *Store) byStripe(objs []Object) [][]int32 {
	byStripe := make([][]int32, len(s.stripes))
	for i := range objs {
		k := s.stripeOf(objs[i].Space, objs[i].ID)
		byStripe[k] = append(byStripe[k], int32(i))
	}
	return byStripe
}

// nextManifest returns the next checkpoint's manifest as far as it is
// known before the stripes are written: the current one's segments, and
// its spaces' metadata changed by spaces. The caller holds cpMu.
func (s *Store) nextManifest(spaces map[string][]byte) Manifest {
	gen := s.nextGen()
	s.mu.Lock()
	m := Manifest{Stripes: slices.Clone(s.manifest.Stripes), Spaces: make(map[string][]byte, len(s.manifest.Spaces)), Gen: gen}
	for k, v := range s.manifest.Spaces {
		m.Spaces[k] = v
	}
	s.mu.Unlock()
	for k, v := range spaces {
		if v == nil {
			delete(m.Spaces, k)
		} else {
			m.Spaces[k] = v
		}
	}
	return m
}

// writeStripes writes and syncs each stripe's objects after its segments
// ends, all stripes in parallel: each stripe's goroutine encodes its own
// objects, then writes and syncs them, so W stripes use W cores and W
// disks. If indexed, each notes its records in its index as its I/O
// finishes. It returns the bytes written.
func (s *Store) writeStripes(objs []Object, byStripe [][]int32, ends [][]SegmentEnd, indexed bool) (int64, error) {
	w := len(s.stripes)
	written := make([]int64, w)
	errs := make([]error, w)
	locs := make([][]loc, w)
	var wg sync.WaitGroup
	for i, st := range s.stripes {
		if len(byStripe[i]) == 0 {
			continue
		}
		locs[i] = make([]loc, len(byStripe[i]))
		wg.Go(func() {
			var n int64
			start := time.Now()
			defer func() { st.stats.wrote(n, time.Since(start)) }()
			n, errs[i] = st.encodeAndWrite(s.fs, objs, byStripe[i], ends[i], locs[i], func() {
				if indexed {
					for k, j := range byStripe[i] {
						st.note(&objs[j], locs[i][k])
					}
				}
			})
			written[i] = n
		})
	}
	wg.Wait()
	var total int64
	for _, n := range written {
		total += n
	}
	return total, errors.Join(errs...)
}

// failCheckpoint takes a failed checkpoint's records out of every stripe
// it wrote to, or moves that stripe to a new segment (see Store), drops
// the index, which may point at records cut off (the next reader rebuilds
// it from the stripes; a failed checkpoint is rare), and returns err.
func (s *Store) failCheckpoint(byStripe [][]int32, indexed bool, err error, named bool) error {
	for i, st := range s.stripes {
		if len(byStripe[i]) > 0 {
			st.undo(s, named)
		}
	}
	s.mu.Lock()
	if indexed {
		s.indexed = false
		for _, st := range s.stripes {
			clear(st.idx)
			st.stats.live.Store(0)
		}
	}
	s.endCheckpoint()
	s.mu.Unlock()
	return err
}

// endCheckpoint lets the index's readers in again. Called with s.mu held.
func (s *Store) endCheckpoint() {
	s.cpActive = false
	s.cpDone.Broadcast()
}

// waitIndex waits, with s.mu held, until no checkpoint is updating the
// stripes' indexes.
func (s *Store) waitIndex() {
	for s.cpActive {
		s.cpDone.Wait()
	}
}

// note records in the index that o's last record is at l: one index
// operation per object, the most a checkpoint spends on the index, which
// also finds the record it replaces, whose size leaves the live bytes.
func (st *stripe) note(o *Object, l loc) {
	ids := st.idx[o.Space]
	if o.Deleted {
		if old, ok := ids.delete(o.ID); ok {
			st.stats.live.Add(-int64(old.size))
		}
		return
	}
	if ids == nil {
		ids = newIDIndex()
		st.idx[o.Space] = ids
	}
	if old, ok := ids.set(o.ID, l); ok {
		st.stats.live.Add(-int64(old.size))
	}
	st.stats.live.Add(int64(l.size))
}

// dropSpace forgets a space's objects.
func (st *stripe) dropSpace(space string) {
	var n int64
	st.idx[space].each(func(l loc) { n += int64(l.size) })
	st.stats.live.Add(-n)
	delete(st.idx, space)
}

// liveBytes sums the sizes of the records the index points at.
func (st *stripe) liveBytes() int64 {
	var n int64
	for _, ids := range st.idx {
		ids.each(func(l loc) { n += int64(l.size) })
	}
	return n
}

// open opens the stripe's current segment if it is not open: the last
// one the manifest lists, cut back to the length it records (anything past
// it is from a checkpoint that did not finish), or a new one if there is
// none, if that one is not to be written again (fresh), or if it cannot
// be cut back.
func (st *stripe) open(fsys FS, segs []SegmentEnd) error {
	st.created = false
	if st.cur != nil {
		return nil
	}
	if n := len(segs); n > 0 && !st.fresh {
		last := segs[n-1]
		f, err := fsys.OpenAppend(filepath.Join(st.dir, last.Name))
		if err != nil {
			return err
		}
		if err := f.Truncate(last.Size); err == nil {
			st.cur, st.name, st.size = f, last.Name, last.Size
			return nil
		}
		// Left as it is: what it holds past the manifest's length is
		// never read.
		f.Close()
	}
	f, name, err := st.newSegment(fsys)
	if err != nil {
		return err
	}
	st.cur, st.name, st.size, st.created, st.fresh = f, name, 0, true, false
	return nil
}

// inPlace checks that the stripe's directory still holds its open
// segment. A directory removed, or replaced by another (a disk unmounted
// lazily, a directory moved aside and made again), while the store runs
// leaves the segment writable and its syncs succeeding, on a file no
// restart finds: a checkpoint written there, and the log records it let
// the node drop, would be lost. One directory listing a checkpoint.
func (st *stripe) inPlace(fsys FS) error {
	names, err := fsys.ReadDir(st.dir)
	if err == nil {
		if _, ok := slices.BinarySearch(names, st.name); ok {
			return nil
		}
		err = fs.ErrNotExist
	}
	return fmt.Errorf("stripe directory %s no longer holds the segment %s the store writes (was the directory removed, replaced or unmounted while the node ran?): %w", st.dir, st.name, err)
}

// newSegment creates the stripe's next segment, numbered past every one
// it has used or found, empty, with its name durable, and opens it to
// append: a write cut back is followed by the next at the cut.
func (st *stripe) newSegment(fsys FS) (File, string, error) {
	return st.newSegmentAt(fsys, st.top.Add(1))
}

// newSegmentAt is newSegment for a number taken from top already.
func (st *stripe) newSegmentAt(fsys FS, num uint64) (File, string, error) {
	name := stripeSegment(num)
	path := filepath.Join(st.dir, name)
	f, err := fsys.Create(path)
	if err == nil {
		err = f.Close()
	}
	if err == nil {
		err = fsys.SyncDir(st.dir)
	}
	if err == nil {
		if f, err = fsys.OpenAppend(path); err == nil {
			return f, name, nil
		}
	}
	// No manifest names it: the next open removes it if this cannot.
	fsys.Remove(path)
	return nil, "", err
}

// undo takes a failed checkpoint's records out of the stripe: they are cut
// off, and the next checkpoint writes where this one began. If the
// segment's sync failed, or a manifest that may be in place records them
// (named), or the cut fails, the segment is written no more: the next
// checkpoint starts a new one. A segment the checkpoint created and no
// manifest names is removed.
func (st *stripe) undo(s *Store, named bool) {
	if st.cur == nil {
		return // it did not open
	}
	if !named && !st.syncFailed {
		if err := st.cur.Truncate(st.start); err == nil {
			st.size = st.start
			return
		}
	}
	// Its close may fail: nothing more is read or written through it.
	st.cur.Close()
	if !named && st.created {
		if s.fs.Remove(filepath.Join(st.dir, st.name)) != nil {
			s.mu.Lock()
			st.leftover = append(st.leftover, st.name)
			s.mu.Unlock()
		}
	}
	st.cur, st.name, st.size = nil, "", 0
	st.syncFailed, st.fresh = false, true
}

// put appends b to the current segment, not yet synced; it returns the
// bytes written.
func (st *stripe) put(b []byte) (int64, error) {
	n, err := st.cur.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return int64(n), err
}

// encodeAndWrite encodes a stripe's objects in chunks and writes each while
// the next is encoded, then syncs: encoding and writing overlap.
func (st *stripe) encodeAndWrite(fsys FS, objs []Object, idx []int32, segs []SegmentEnd, locs []loc, during func()) (int64, error) {
	if err := st.open(fsys, segs); err != nil {
		return 0, err
	}
	st.start, st.syncFailed = st.size, false
	if err := st.inPlace(fsys); err != nil {
		return 0, err
	}
	seg, base := uint32(segmentNumber(st.name)), st.size
	chunks := make(chan []byte, 2)
	free := make(chan []byte, 3)
	next := chunkBuffers(objs, idx, free)
	type result struct {
		n          int64
		err        error
		syncFailed bool
	}
	res := make(chan result, 1)
	go func() {
		var r result
		for b := range chunks {
			if r.err == nil {
				var n int64
				n, r.err = st.put(b)
				r.n += n
			}
			free <- b[:0]
		}
		if r.err == nil {
			r.err = st.cur.Sync()
			r.syncFailed = r.err != nil
		}
		res <- r
	}()
	buf := next()
	for k, j := range idx {
		start := len(buf)
		buf = appendObject(buf, &objs[j])
		locs[k] = loc{seg: seg, off: base + int64(start), size: uint32(len(buf) - start)}
		if len(buf) >= chunk {
			base += int64(len(buf))
			chunks <- buf
			buf = next()
		}
	}
	if len(buf) > 0 {
		chunks <- buf
	}
	close(chunks)
	during() // while the last writes and the sync go on
	r := <-res
	if r.err != nil {
		// The checkpoint fails; undo cuts this back, or moves on.
		st.syncFailed = r.syncFailed
		return r.n, r.err
	}
	st.size += r.n
	return r.n, nil
}

// chunk is how much of a stripe's records a checkpoint encodes before it
// hands them to the writer.
const chunk = 1 << 20

// chunkBuffers returns what gives encodeAndWrite its next buffer. Up to
// three go round (one being encoded, one being written, one spare; no
// garbage per chunk), each made when first needed, taken back from free
// after, and no larger than the stripe's records: a checkpoint of less
// than a chunk makes one buffer its size, not three of a megabyte.
func chunkBuffers(objs []Object, idx []int32, free chan []byte) func() []byte {
	size := 0
	for _, j := range idx {
		if size += recordSize(&objs[j]); size >= chunk {
			break
		}
	}
	made := 0
	return func() []byte {
		if made < cap(free) {
			select {
			case b := <-free:
				return b
			default:
				made++
				return make([]byte, 0, min(size, chunk)+4096)
			}
		}
		return <-free
	}
}

// ends returns the stripe's segment list with the current segment's size.
func (st *stripe) ends(segs []SegmentEnd) []SegmentEnd {
	segs = slices.Clone(segs)
	if n := len(segs); n > 0 && segs[n-1].Name == st.name {
		segs[n-1].Size = st.size
		return segs
	}
	return append(segs, SegmentEnd{Name: st.name, Size: st.size})
}

// Load reads every stripe in parallel, up to the lengths the manifest
// records, and calls fn for each live object of a space the manifest lists
// (the last record of each key; tombstones remove). fn is called from several goroutines at once, each
// key from one. A damaged record fails with a *CorruptError naming the
// file and offset.
func (s *Store) Load(fn func(Object)) error { return s.LoadProgress(fn, nil) }

// LoadProgress is Load that reports the bytes read so far and in all,
// from the stripes' goroutines as they go.
func (s *Store) LoadProgress(fn func(Object), progress func(done, total int64)) error {
	s.cpMu.Lock() // the index must match the manifest read
	defer s.cpMu.Unlock()
	m := s.Manifest()
	var total int64
	for _, segs := range m.Stripes {
		for _, seg := range segs {
			total += seg.Size
		}
	}
	var done atomic.Int64
	report := func(n int64) {
		if progress != nil {
			progress(done.Add(n), total)
		}
	}
	errs := make([]error, len(s.stripes))
	idxs := make([]map[string]*idIndex, len(s.stripes))
	var wg sync.WaitGroup
	for i, st := range s.stripes {
		wg.Go(func() {
			idxs[i], errs[i] = st.load(s.fs, m.Stripes[i], m.Spaces, report, fn)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.mu.Lock()
	for i, st := range s.stripes {
		st.idx = idxs[i]
		st.stats.live.Store(st.liveBytes())
	}
	s.indexed = true
	s.mu.Unlock()
	return nil
}

// index builds the stripes' indexes if no Load has.
func (s *Store) index() error {
	s.mu.Lock()
	done := s.indexed
	s.mu.Unlock()
	if done {
		return nil
	}
	return s.LoadProgress(nil, nil)
}

type storeKey struct {
	space string
	id    [16]byte
}

// loadPiece is the size of the reads that load a stripe.
const loadPiece = 1 << 20

// loaded is the last record of an object found so far in a stripe, with a
// copy of its value if the loader wants values.
type loaded struct {
	l       loc
	version uint64
	value   []byte
}

// found is what loading a stripe has found so far: for each space, the
// position in recs of each live object's last record. The maps hold no
// pointers, which keeps them cheap to grow and to scan.
type found struct {
	spaces map[string]map[[16]byte]uint32
	recs   []loaded
}

// load reads a stripe's segments in pieces, one record at a time, and
// returns its index. If fn is not nil, it is called with the last record
// of each live object of the listed spaces, its value a copy of its own:
// memory holds a piece of a segment at a time, never a segment, and what
// fn keeps pins no buffer of the load.
func (st *stripe) load(fsys FS, segs []SegmentEnd, spaces map[string][]byte, report func(int64), fn func(Object)) (map[string]*idIndex, error) {
	fd := &found{spaces: map[string]map[[16]byte]uint32{}}
	seen := map[uint32]bool{}
	var buf []byte
	for _, seg := range segs {
		path := filepath.Join(st.dir, seg.Name)
		// The index locates records by segment number, as views read
		// them: each listed segment must have its own.
		num := uint32(segmentNumber(seg.Name))
		if seen[num] || seg.Name != stripeSegment(uint64(num)) {
			return nil, &CorruptError{File: path, Reason: "the manifest lists a segment twice, or under a name that is not a segment's"}
		}
		seen[num] = true
		f, err := fsys.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &CorruptError{File: path, Reason: "the manifest lists this segment, and it is missing"}
		}
		if err != nil {
			return nil, fmt.Errorf("persist: %w", err)
		}
		buf, err = fd.readSegment(f, path, num, seg.Size, buf, spaces, report, fn != nil)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	idx := make(map[string]*idIndex, len(fd.spaces))
	for space, objs := range fd.spaces {
		if _, ok := spaces[space]; !ok {
			continue // a dropped space's leftovers
		}
		ids := make([]idxEntry, 0, len(objs))
		for id, i := range objs {
			r := &fd.recs[i]
			ids = append(ids, idxEntry{id, r.l})
			if fn != nil {
				fn(Object{Space: space, ID: id, Version: r.version, Value: r.value})
			}
			r.value = nil
		}
		idx[space] = indexOf(ids)
	}
	return idx, nil
}

// readSegment reads one segment of size bytes, through buf, which it
// returns grown to the largest record.
func (fd *found) readSegment(f File, path string, num uint32, size int64, buf []byte, spaces map[string][]byte, report func(int64), values bool) ([]byte, error) {
	have, err := f.Size()
	if err != nil {
		return buf, fmt.Errorf("persist: %w", err)
	}
	if size < 0 || have < size {
		return buf, &CorruptError{File: path, Offset: have, Reason: fmt.Sprintf("the manifest records %d bytes, the file holds %d", size, have)}
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), loadPiece)
	var off, reported int64
	for off < size {
		rest := size - off
		if rest < storeHeader {
			return buf, &CorruptError{File: path, Offset: off, Reason: "short record header"}
		}
		buf = slices.Grow(buf[:0], storeHeader)[:storeHeader]
		if _, err := io.ReadFull(r, buf); err != nil {
			return buf, &CorruptError{File: path, Offset: off, Reason: fmt.Sprintf("the manifest records %d bytes: %v", size, err)}
		}
		n := int64(binary.LittleEndian.Uint32(buf))
		if n > MaxRecord || rest < storeHeader+n {
			return buf, &CorruptError{File: path, Offset: off, Reason: "short record"}
		}
		buf = slices.Grow(buf, int(n))[:storeHeader+n]
		if _, err := io.ReadFull(r, buf[storeHeader:]); err != nil {
			return buf, &CorruptError{File: path, Offset: off, Reason: fmt.Sprintf("the manifest records %d bytes: %v", size, err)}
		}
		space, o, rsize, reason := decodeRecord(buf)
		if reason != "" {
			return buf, &CorruptError{File: path, Offset: off, Reason: reason}
		}
		if err := fd.note(space, &o, loc{seg: num, off: off, size: uint32(rsize)}, spaces, values); err != nil {
			return buf, fmt.Errorf("persist: %s: %w", path, err)
		}
		off += int64(rsize)
		if off-reported >= loadPiece {
			report(off - reported)
			reported = off
		}
	}
	report(off - reported)
	return buf, nil
}

// note records what the record of o, at l, says: that o is the latest
// version of its object (with its value, if values and its space is
// listed), or that the object is deleted.
func (fd *found) note(space []byte, o *Object, l loc, spaces map[string][]byte, values bool) error {
	ids := fd.spaces[string(space)] // no allocation for a space seen before
	i, ok := ids[o.ID]
	if o.Deleted {
		if ok {
			fd.recs[i] = loaded{}
			delete(ids, o.ID)
		}
		return nil
	}
	e := loaded{l: l, version: o.Version}
	if _, listed := spaces[string(space)]; values && listed {
		e.value = make([]byte, len(o.Value))
		copy(e.value, o.Value)
	}
	if ok {
		fd.recs[i] = e
		return nil
	}
	if ids == nil {
		ids = map[[16]byte]uint32{}
		fd.spaces[string(space)] = ids
	}
	if len(fd.recs) >= math.MaxUint32 {
		return fmt.Errorf("more than %d objects in one stripe", uint32(math.MaxUint32))
	}
	ids[o.ID] = uint32(len(fd.recs))
	fd.recs = append(fd.recs, e)
	return nil
}

// Close closes the stripes' files and returns what their closes failed
// with. What a checkpoint wrote is synced before it returns: a failed
// close loses nothing of it.
func (s *Store) Close() error {
	var errs []error
	for _, st := range s.stripes {
		if st.cur != nil {
			if err := st.cur.Close(); err != nil {
				errs = append(errs, fmt.Errorf("persist: store: close: %w", err))
			}
			st.cur = nil
		}
	}
	return errors.Join(errs...)
}

// Compact rewrites each stripe whose files hold at least as much garbage
// (overwritten and deleted objects, dropped spaces) as live records, and
// at least minBytes in all, into one new segment of its live records,
// found by the stripe's index. Checkpoints go on meanwhile, into a new
// segment; they wait only while the stripe is frozen and while the new
// manifest is written, never while compaction copies or syncs its data. Segments a View still reads stay until
// it is closed. It returns the bytes reclaimed: of the old segments
// removed. A compaction that took effect but could not remove all of them
// says so in its error, and the next compaction tries again.
func (s *Store) Compact(minBytes int64) (int64, error) {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	if err := s.index(); err != nil {
		return 0, err
	}
	s.removeLeftovers()
	var reclaimed int64
	for i := range s.stripes {
		n, err := s.compactStripe(i, minBytes)
		reclaimed += n
		if err != nil {
			return reclaimed, err
		}
	}
	return reclaimed, nil
}

// removeLeftovers tries again to remove the segments whose removal failed.
// No manifest that may be in place lists them, and their numbers are never
// used again.
func (s *Store) removeLeftovers() {
	for _, st := range s.stripes {
		s.mu.Lock()
		names := st.leftover
		st.leftover = nil
		s.mu.Unlock()
		var still []string
		for _, name := range names {
			if err := s.fs.Remove(filepath.Join(st.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				still = append(still, name)
			}
		}
		if len(names) > len(still) {
			// Not synced, a removal may come undone in a crash; the next
			// open removes the segment again.
			s.fs.SyncDir(st.dir)
		}
		s.mu.Lock()
		st.leftover = append(st.leftover, still...)
		s.mu.Unlock()
	}
}

type segOff struct {
	seg uint32
	off int64
}

// compactStripe compacts stripe i. Checkpoints wait for it only twice,
// briefly, and never while it syncs its data: to freeze the stripe's
// segments (checkpoints write to a new one from then on, so those compacted
// no longer change) and to switch the manifest over to the compacted
// segment (a manifest write, as a checkpoint's own).
func (s *Store) compactStripe(i int, minBytes int64) (int64, error) {
	c := &compaction{s: s, i: i, st: s.stripes[i]}
	if !c.worth(minBytes) || !c.freeze() {
		return 0, nil
	}
	if err := c.copyLive(); err != nil {
		return 0, err
	}
	f, name, err := c.st.newSegmentAt(s.fs, c.num)
	if err != nil {
		return 0, fmt.Errorf("persist: compact: %w", err)
	}
	c.f, c.name = f, name
	err = writeAll(f, c.out)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = c.switchOver()
	}
	if err != nil {
		return 0, c.abandon(err)
	}
	return c.removeOld()
}

// compaction is one compaction of a stripe, in the steps compactStripe
// takes.
type compaction struct {
	s    *Store
	i    int          // the stripe's number
	st   *stripe      // s.stripes[i]
	segs []SegmentEnd // the segments compacted, as the manifest listed them
	// frozen: their numbers; no later record goes to one.
	frozen map[uint32]bool
	num    uint64 // the compacted segment's number

	out   []byte           // the live records, in the compacted segment
	moved map[segOff]int64 // a live record's offset in out
	f     File             // the compacted segment
	name  string           // f's
	named bool             // a manifest that names f may be in place
	// remove: the frozen segments no view reads, to remove once the
	// manifest no longer lists them (the others, when their views end).
	remove []string
}

// worth takes the stripe's segments and reports whether they hold at
// least minBytes, and at least twice the live bytes.
func (c *compaction) worth(minBytes int64) bool {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waitIndex()
	c.segs = slices.Clone(s.manifest.Stripes[c.i])
	total := c.total()
	return len(c.segs) > 0 && total >= minBytes && total >= 2*c.st.liveBytes()
}

// total is the size of the segments compacted.
func (c *compaction) total() int64 {
	var total int64
	for _, seg := range c.segs {
		total += seg.Size
	}
	return total
}

// freeze closes the stripe's current segment, so that checkpoints write to
// a new one from then on, and numbers the compacted segment before those.
// The current segment was synced by the checkpoint that last wrote it: its
// close loses nothing. It reports false if a checkpoint came in between;
// the next compaction looks again.
func (c *compaction) freeze() bool {
	s, st := c.s, c.st
	s.cpMu.Lock()
	defer s.cpMu.Unlock()
	if !slices.Equal(s.Manifest().Stripes[c.i], c.segs) {
		return false
	}
	if st.cur != nil {
		st.cur.Close()
	}
	st.cur, st.name, st.size, st.fresh = nil, "", 0, true
	c.num = st.top.Add(1)
	c.frozen = make(map[uint32]bool, len(c.segs))
	for _, seg := range c.segs {
		c.frozen[uint32(segmentNumber(seg.Name))] = true
	}
	return true
}

// liveLocs returns where the live records of the frozen segments lie, in
// segment and offset order.
func (c *compaction) liveLocs() []loc {
	s := c.s
	s.mu.Lock()
	s.waitIndex()
	locs := make([]loc, 0, 1024)
	for _, ids := range c.st.idx {
		ids.each(func(l loc) {
			if c.frozen[l.seg] {
				locs = append(locs, l)
			}
		})
	}
	s.mu.Unlock()
	slices.SortFunc(locs, func(a, b loc) int {
		if a.seg != b.seg {
			return int(a.seg) - int(b.seg)
		}
		return int(a.off - b.off)
	})
	return locs
}

// copyLive copies the live records into c.out, checking each, segment by
// segment.
func (c *compaction) copyLive() error {
	locs := c.liveLocs()
	c.moved = make(map[segOff]int64, len(locs))
	for k := 0; k < len(locs); {
		seg := locs[k].seg
		name := stripeSegment(uint64(seg))
		path := filepath.Join(c.st.dir, name)
		buf, err := c.readFrozen(name, path)
		if err != nil {
			return err
		}
		for ; k < len(locs) && locs[k].seg == seg; k++ {
			l := locs[k]
			if l.off+int64(l.size) > int64(len(buf)) {
				return &CorruptError{File: path, Offset: l.off, Reason: "record past the segment's end"}
			}
			rec := buf[l.off : l.off+int64(l.size)]
			if _, _, reason := decodeObject(rec); reason != "" {
				return &CorruptError{File: path, Offset: l.off, Reason: reason}
			}
			c.moved[segOff{seg, l.off}] = int64(len(c.out))
			c.out = append(c.out, rec...)
		}
	}
	return nil
}

// readFrozen reads the frozen segment name, at path, as long as the
// manifest records it.
func (c *compaction) readFrozen(name, path string) ([]byte, error) {
	size := int64(-1)
	for _, e := range c.segs {
		if e.Name == name {
			size = e.Size
		}
	}
	if size < 0 {
		return nil, fmt.Errorf("persist: compact: the index points into %s, which the manifest does not list", path)
	}
	f, err := c.s.fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("persist: compact: %w", err)
	}
	buf := make([]byte, size)
	n, err := f.ReadAt(buf, 0)
	f.Close()
	if int64(n) < size {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("persist: compact: %w", err)
		}
		return nil, &CorruptError{File: path, Offset: int64(n), Reason: "shorter than the manifest records"}
	}
	return buf, nil
}

// switchOver writes the manifest in which the compacted segment takes the
// frozen ones' place, before those checkpoints wrote meanwhile, and points
// the index at it.
func (c *compaction) switchOver() error {
	s, st := c.s, c.st
	s.cpMu.Lock()
	defer s.cpMu.Unlock()
	cur := s.Manifest()
	now := cur.Stripes[c.i]
	if len(now) < len(c.segs) || !slices.Equal(now[:len(c.segs)], c.segs) {
		return errors.New("the stripe changed under compaction")
	}
	next := Manifest{Stripes: slices.Clone(cur.Stripes), Spaces: cur.Spaces, Gen: s.nextGen()}
	next.Stripes[c.i] = append([]SegmentEnd{{Name: c.name, Size: int64(len(c.out))}}, now[len(c.segs):]...)
	var err error
	if c.named, err = s.writeManifest(next); err != nil {
		return err
	}
	s.mu.Lock()
	s.manifest = next
	for _, ids := range st.idx {
		ids.update(func(l *loc) {
			if c.frozen[l.seg] {
				l.off, l.seg = c.moved[segOff{l.seg, l.off}], uint32(c.num)
			}
		})
	}
	for _, seg := range c.segs {
		if st.pins[seg.Name] > 0 {
			st.doomed[seg.Name] = true
		} else {
			c.remove = append(c.remove, seg.Name)
		}
	}
	s.mu.Unlock()
	if st.cur == nil {
		// No checkpoint since the freeze: the next appends here.
		st.cur, st.name, st.size, st.fresh = c.f, c.name, int64(len(c.out)), false
	} else {
		c.f.Close() // synced
	}
	return nil
}

// abandon gives the compaction up after err: it removes the compacted
// segment, unless a manifest that names it may be in place.
func (c *compaction) abandon(err error) error {
	s, st := c.s, c.st
	c.f.Close()
	if c.named {
		// Both manifests' segments stay: the next start may find
		// either. The next checkpoint's manifest names the new one.
		return fmt.Errorf("persist: compact: %w (the new manifest may be in place; the segments of both are kept)", err)
	}
	if s.fs.Remove(filepath.Join(st.dir, c.name)) != nil {
		s.mu.Lock()
		st.leftover = append(st.leftover, c.name)
		s.mu.Unlock()
	}
	return fmt.Errorf("persist: compact: %w", err)
}

// removeOld removes the frozen segments no view reads, now that no manifest
// lists them, and returns the bytes reclaimed.
func (c *compaction) removeOld() (int64, error) {
	s, st := c.s, c.st
	var kept int64
	var errs []error
	for _, seg := range c.segs {
		if !slices.Contains(c.remove, seg.Name) {
			continue
		}
		if err := s.fs.Remove(filepath.Join(st.dir, seg.Name)); err != nil {
			s.mu.Lock()
			st.leftover = append(st.leftover, seg.Name)
			s.mu.Unlock()
			kept += seg.Size
			errs = append(errs, err)
		}
	}
	if err := s.fs.SyncDir(st.dir); err != nil {
		errs = append(errs, err)
	}
	reclaimed := max(0, c.total()-kept-int64(len(c.out)))
	if len(errs) > 0 {
		// The compaction took effect; the old segments are garbage.
		return reclaimed, fmt.Errorf("persist: compact: %s is compacted into %s, but not all of its old segments are gone (the next compaction, or the next open, removes them): %w", st.dir, c.name, errors.Join(errs...))
	}
	return reclaimed, nil
}

// writeAll writes b to f, a short write being an error.
func writeAll(f File, b []byte) error {
	n, err := f.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}

func stripeSegment(n uint64) string { return fmt.Sprintf("%016x.seg", n) }

func segmentNumber(name string) uint64 {
	var n uint64
	fmt.Sscanf(name, "%016x.seg", &n)
	return n
}
