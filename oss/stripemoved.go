package oss

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

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
		return fmt.Errorf("oss: striped store: %w: the node has run on %s before, and the default stripe directory %s does not exist: the node ran with stripe directories of its own; start it with those (Config.StripeDirs, ossd --stripe-dirs), in their order, each on its disk",
			persist.ErrStripeDirs, dataDir, def)
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
