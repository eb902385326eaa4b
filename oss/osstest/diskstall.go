package osstest

import (
	"strings"
	"sync"
	"syscall"

	"github.com/objectsharing/oss/persist"
)

// DiskStall is a data directory's file system, in memory, whose syncs
// can be made to stall (a hung NFS mount, a dying disk) until the test
// lets them go: for the tests of applications, which import only oss.
type DiskStall struct {
	fs      persist.FaultFS
	release func()
}

// NewDiskStall returns a file system in memory that stalls nothing yet;
// give FS() as Config.FS.
func NewDiskStall() *DiskStall {
	return &DiskStall{fs: persist.FaultFS{FS: persist.NewMemFS()}, release: func() {}}
}

// FS returns the file system, for Config.FS.
func (d *DiskStall) FS() persist.FS { return &d.fs }

// Syncs makes every later sync of a file whose name holds part wait until
// Release; the channel receives the name of the first that waits.
func (d *DiskStall) Syncs(part string) <-chan string {
	held := make(chan string, 1)
	let := make(chan struct{})
	var once sync.Once
	d.release = sync.OnceFunc(func() { close(let) })
	d.fs.SetRule(func(op persist.Op, name string) error {
		if op == persist.OpSync && strings.Contains(name, part) {
			once.Do(func() { held <- name })
			<-let
		}
		return nil
	})
	return held
}

// Release lets the syncs that wait go, and those after them.
func (d *DiskStall) Release() { d.release() }

// Full makes every later write of a file whose name holds part fail as a
// full disk's (syscall.ENOSPC), in place of any stall Syncs set, until
// Mend.
func (d *DiskStall) Full(part string) {
	d.fs.SetRule(func(op persist.Op, name string) error {
		if op == persist.OpWrite && strings.Contains(name, part) {
			return syscall.ENOSPC
		}
		return nil
	})
}

// Mend lets every later operation through: it ends Full (a stall of
// Syncs ends with Release).
func (d *DiskStall) Mend() { d.fs.SetRule(nil) }
