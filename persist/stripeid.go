package persist

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
)

// stripeFile is the file in each stripe's directory that says which
// stripe of which store the directory holds: written before the stripe's
// first checkpoint, checked at every open. Segments are numbered per
// stripe, so without it a directory listed in another place (stripe
// directories given in another order, a disk not mounted, another
// store's directory) looks like the stripe it stands in for.
const stripeFile = "STRIPE"

// ErrStripeDirs is matched by OpenStore's error when the directories it is
// given are not the store's stripes in their order: one is another
// stripe, or of another store, there are more or fewer than the store was
// written with, or one lacks its identity while another stripe, whose
// identity is written after it, has one (its disk not mounted: the first
// directory, without the store's manifest, or another, while the manifest
// stands and the first directory has its identity), or one listed
// after the first holds the manifest (the first stripe, moved). Nothing
// in them is changed; opened with the directories the store was written
// with, in their order, it is whole.
var ErrStripeDirs = errors.New("persist: the stripe directories are not those the store was written with, in their order")

// stripeID is a stripe directory's identity: its store (a random number
// drawn when the store's first checkpoint is written), its place and how
// many stripes the store has.
type stripeID struct {
	store        uint64
	index, count int
}

func (id stripeID) encode() []byte {
	b := fmt.Appendf(nil, "oss stripe %016x %d of %d", id.store, id.index, id.count)
	return fmt.Appendf(b, " %08x\n", crc32.Checksum(b, castagnoli))
}

// readStripeID reads dir's identity; ok is false if it has none.
func readStripeID(fsys FS, dir string) (id stripeID, ok bool, err error) {
	path := filepath.Join(dir, stripeFile)
	f, err := fsys.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return id, false, nil
	}
	if err != nil {
		return id, false, fmt.Errorf("persist: store: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 256))
	f.Close()
	if err != nil {
		return id, false, fmt.Errorf("persist: store: %w", err)
	}
	var sum uint32
	if _, err := fmt.Sscanf(string(b), "oss stripe %016x %d of %d %08x\n", &id.store, &id.index, &id.count, &sum); err != nil || !slices.Equal(id.encode(), b) {
		return id, false, &CorruptError{File: path, Reason: fmt.Sprintf("not a stripe's identity: %q", b)}
	}
	return id, true, nil
}

// checkStripeIDs reads the stripes' identities and refuses directories
// that are not the stripes they are listed as. m is the manifest read
// from the first directory (Gen 0 if it has none). A directory without an
// identity is taken if the store has none yet (its first checkpoint, or
// written by a build without them), or if no directory after it in
// markOrder has one (a marking cut short; while the first directory's
// manifest stands, scanSegments checks that it holds the segments the
// manifest lists for it). One before a directory with an identity in that
// order is refused: its disk is not the one the store was written on.
func (s *Store) checkStripeIDs(m Manifest) error {
	var first *stripeID
	firstDir := ""
	for i, d := range s.dirs {
		id, ok, err := readStripeID(s.fs, d)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if first == nil {
			first, firstDir = &id, d
		}
		switch {
		case id.store != first.store:
			return fmt.Errorf("%w: %s and %s are stripes of different stores (their %s files differ)", ErrStripeDirs, firstDir, d, stripeFile)
		case id.index != i || id.count != len(s.dirs):
			return fmt.Errorf("%w: %s is stripe %d of %d of its store (%s), listed as stripe %d of %d (a store cannot be given more or fewer stripes)", ErrStripeDirs, d, id.index+1, id.count, filepath.Join(d, stripeFile), i+1, len(s.dirs))
		}
		s.marked[i] = true
	}
	if err := s.checkManifestPlace(); err != nil {
		return err
	}
	if first == nil {
		return nil
	}
	s.storeID = first.store
	order := s.markOrder(m.Gen > 0)
	for k, i := range order {
		later := slices.IndexFunc(order[k+1:], func(j int) bool { return s.marked[j] })
		if s.marked[i] || later < 0 {
			continue
		}
		if i == 0 {
			return fmt.Errorf("%w: the first, %s, holds no manifest and no %s, while %s is stripe %d of %d of a store (is its disk mounted?)", ErrStripeDirs, s.dirs[0], stripeFile, firstDir, first.index+1, first.count)
		}
		j := order[k+1+later]
		return fmt.Errorf("%w: %s holds no %s, while %s, whose %s is written after it, is stripe %d of %d of a store (is its disk mounted?)", ErrStripeDirs, s.dirs[i], stripeFile, s.dirs[j], stripeFile, j+1, len(s.dirs))
	}
	return nil
}

// markOrder returns the order in which markStripes writes the stripes'
// identities: the first directory's first in a store without a manifest,
// last in one with a manifest (written by a build without identities). So
// a directory without an identity while one after it in that order has
// one is not a marking cut short: its disk is not the one the store was
// written on (not mounted). In particular, once the manifest stands and
// the first directory has its identity, every stripe has one, and an
// empty directory in the place of a stripe that never held an object is
// refused, not marked below its mount point.
func (s *Store) markOrder(manifested bool) []int {
	order := make([]int, 0, len(s.dirs))
	for i := range s.dirs {
		if i > 0 || !manifested {
			order = append(order, i)
		}
	}
	if manifested {
		order = append(order, 0)
	}
	return order
}

// markStripes writes the identity of every stripe directory that has
// none, in markOrder: before a checkpoint writes to them. The caller
// holds cpMu.
func (s *Store) markStripes() error {
	if !slices.Contains(s.marked, false) {
		return nil
	}
	if s.storeID == 0 {
		s.storeID = rand.Uint64() | 1
	}
	s.mu.Lock()
	manifested := s.manifest.Gen > 0
	s.mu.Unlock()
	for _, i := range s.markOrder(manifested) {
		d := s.dirs[i]
		if s.marked[i] {
			continue
		}
		id := stripeID{store: s.storeID, index: i, count: len(s.dirs)}
		if err := WriteFileAtomic(s.fs, d, stripeFile, id.encode()); err != nil {
			return fmt.Errorf("persist: store: marking stripe directory %s: %w", d, err)
		}
		s.marked[i] = true
	}
	return nil
}

// WriteFileAtomic puts a file named name in dir holding b: written under
// a temporary name (removed if that fails), synced, renamed over name,
// the directory synced. A crash leaves the old file or the new one.
//
// A temporary file already there (a crash's, or one copied in) is
// removed first, so that the file is a new one, mode 0600: truncated and
// written over, it kept its mode (a copy's 0644 made RESET_KEY, a
// secret, readable by every user), and a symbolic link of that name was
// followed, writing b into the file it named.
func WriteFileAtomic(fsys FS, dir, name string, b []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	if err := fsys.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := fsys.Create(tmp)
	if err != nil {
		return err
	}
	err = writeAll(f, b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		fsys.Remove(tmp)
		return err
	}
	return fsys.SyncDir(dir)
}

// checkManifestPlace refuses a store whose manifest is in a directory
// listed after the first: the store's manifest lives in its first stripe
// alone, so that directory is the first stripe, listed in another place.
// Without it a store written without stripe identities, its first
// directory listed elsewhere, was opened as an empty store.
func (s *Store) checkManifestPlace() error {
	for i, d := range s.dirs[1:] {
		f, err := s.fs.Open(filepath.Join(d, manifestName))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("persist: store: %w", err)
		}
		f.Close()
		return fmt.Errorf("%w: %s holds a store's manifest (%s), so it is the first stripe of its store, listed as stripe %d of %d", ErrStripeDirs, d, manifestName, i+2, len(s.dirs))
	}
	return nil
}
