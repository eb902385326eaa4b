package oss

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/objectsharing/oss/persist"
)

// checkStoreKept refuses, reading only, to start a node that has run on
// dataDir before (it holds NODE_ID) with stripe directories that leave
// out the store it ran with, where the store's own identities cannot
// tell: the data directory's "stripes" (the default) is a store of one
// stripe, and a new, empty default is a new store. A node that ran with
// --stripe-dirs a,b started without them was refused only later, as
// damaged ("the log records a checkpoint ... that the striped store does
// not hold"), naming a heap rather than a directory, having created the
// default directory; one that ran without them, given new empty ones,
// the same. Both are a flag left out or added, and nothing is damaged.
func checkStoreKept(fsys persist.FS, dataDir string, stripes []string) error {
	f, err := fsys.Open(filepath.Join(dataDir, nodeIDFile))
	if err != nil {
		return nil // a new node, or one whose data directory is gone: nothing to keep
	}
	f.Close()
	def := storeDirs(dataDir, nil)[0]
	names, err := fsys.ReadDir(def)
	switch {
	case len(stripes) == 0 && errors.Is(err, fs.ErrNotExist):
		return defaultStoreMissing(fsys, dataDir, def)
	case len(stripes) == 0 || err != nil:
		return nil
	case slices.ContainsFunc(stripes, func(d string) bool { return filepath.Clean(d) == def }):
		return nil
	case slices.Contains(names, "MANIFEST") || slices.Contains(names, "STRIPE"):
		return fmt.Errorf("oss: striped store: %w: %s holds the store the node ran with, without stripe directories of its own, and the stripe directories given leave it out: start the node without them (Config.StripeDirs, ossd --stripe-dirs); a store cannot be re-striped: to change them, start it with the new ones and --rebuild-replica",
			persist.ErrStripeDirs, def)
	}
	return nil
}

// stripeDirsFile, in the data directory of a node that runs with stripe
// directories of its own, lists them, one a line, in their order: a
// start without them then tells a flag left out from the default
// stripe directory removed, which look the same on the disk.
const stripeDirsFile = "STRIPE_DIRS"

// recordStripeDirs writes stripeDirsFile for a node given stripe
// directories, unless it lists them already.
func recordStripeDirs(fsys persist.FS, dataDir string, stripes []string) error {
	if len(stripes) == 0 {
		return nil
	}
	var b strings.Builder
	for _, d := range stripes {
		if abs, err := filepath.Abs(d); err == nil {
			d = abs // the flag to give works from any directory
		}
		b.WriteString(filepath.Clean(d) + "\n")
	}
	if old, err := readSmall(fsys, filepath.Join(dataDir, stripeDirsFile)); err == nil && old == b.String() {
		return nil
	}
	return writeFileAtomic(fsys, dataDir, stripeDirsFile, []byte(b.String()))
}

// defaultStoreMissing is the refusal of a node that has run on dataDir,
// started without stripe directories while the default one, def, does
// not exist: if stripeDirsFile lists the ones it ran with, a flag left
// out; if not, the default one removed, and the store with it.
func defaultStoreMissing(fsys persist.FS, dataDir, def string) error {
	listed, err := readSmall(fsys, filepath.Join(dataDir, stripeDirsFile))
	if err == nil && strings.TrimSpace(listed) != "" {
		dirs := strings.Join(strings.FieldsFunc(listed, func(r rune) bool { return r == '\n' }), ",")
		return fmt.Errorf("oss: striped store: %w: the node has run on %s before with stripe directories of its own (%s lists them), and the default one, %s, does not exist: start it with those, in their order, each on its disk: --stripe-dirs %s (Config.StripeDirs)",
			persist.ErrStripeDirs, dataDir, filepath.Join(dataDir, stripeDirsFile), def, dirs)
	}
	return fmt.Errorf("%w: the node has run on %s before, and its striped store, %s, is gone: what it held is lost. If the node ran with stripe directories of its own, start it with those (--stripe-dirs, Config.StripeDirs); otherwise move %s aside and start the node with an empty data directory and Join to rebuild its replicas from its peers",
		ErrCorrupt, dataDir, def, dataDir)
}

// readSmall reads a file of a few lines.
func readSmall(fsys persist.FS, path string) (string, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	return string(b), err
}
