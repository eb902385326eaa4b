//go:build !(linux && (amd64 || arm64))

package persist

import (
	"os"
	"sync"
)

// aioSync is a plain sync where the kernel's asynchronous fsync is not
// used (fsync_linux.go).
type aioSync struct{ mu sync.Mutex }

func (a *aioSync) sync(f *os.File) error { return f.Sync() }

func (a *aioSync) syncAsync(f *os.File) error { return f.Sync() }

func (a *aioSync) close() {}
