package oss

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDataDir creates the data directory if needed and takes its lock, so
// that two processes never use one directory.
func lockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("oss: data directory: %w", err)
	}
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("oss: data directory: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("oss: data directory %s is in use by another process (%s is locked): %w", dir, path, err)
	}
	return f, nil
}
