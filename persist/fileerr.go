package persist

import (
	"errors"
	"fmt"
	"io/fs"
)

// fileErr is err of the operation op on the file path, with prefix
// before it, naming the operation and the file once: the operating
// system's errors (an *fs.PathError of the same file) name them already,
// and "write F: write F: no space left on device" said it twice.
func fileErr(prefix, op, path string, err error) error {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) && pe.Path == path {
		return fmt.Errorf("%s%w", prefix, err)
	}
	return fmt.Errorf("%s%s %s: %w", prefix, op, path, err)
}
