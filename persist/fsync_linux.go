//go:build linux && (amd64 || arm64)

package persist

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// On Linux a file's sync, once half the processors are already in
// syncs, goes through the kernel's asynchronous I/O (io_submit of an
// IOCB_CMD_FDSYNC, completion signalled on an eventfd), and the goroutine
// waits for it in the runtime's network poller. A plain fdatasync holds
// its processor (P) for as long as the disk takes: the runtime takes a P
// back from a system call only at its monitor's next tick, which is up to
// 10 ms away when the monitor has been idle, so on a machine with few
// cores the log writers' syncs would keep the loops, the transport and
// the callers from running. The durability is the same: the kernel runs
// vfs_fsync(datasync) for the request and reports its error in the
// completion. Where the kernel refuses (no asynchronous I/O, no
// asynchronous fsync for this file system, the system's limit of
// contexts reached), the file syncs plainly from then on.

const (
	iocbCmdFdsync = 3 // IOCB_CMD_FDSYNC
	iocbFlagResfd = 1 // IOCB_FLAG_RESFD
)

// iocb is struct iocb of linux/aio_abi.h on a little-endian machine.
type iocb struct {
	data      uint64
	key       uint32
	rwFlags   int32
	opcode    uint16
	reqprio   int16
	fildes    uint32
	buf       uint64
	nbytes    uint64
	offset    int64
	reserved2 uint64
	flags     uint32
	resfd     uint32
}

// ioEvent is struct io_event.
type ioEvent struct {
	data uint64
	obj  uint64
	res  int64
	res2 int64
}

// aioSync is one file's asynchronous sync: an AIO context with room for
// one request and the eventfd its completion is signalled on. Syncs of
// one file take turns (mu).
type aioSync struct {
	mu     sync.Mutex
	state  int // aioUnset, aioReady, aioOff
	ctx    uintptr
	efd    uintptr // ev's descriptor (ev.Fd would make it blocking)
	ev     *os.File
	rc     syscall.RawConn // ev's, for waits in the poller
	cb     iocb
	cbs    [1]*iocb
	events [1]ioEvent
}

const (
	aioUnset = iota
	aioReady
	aioOff
)

// plainSyncs counts the plain syncs in flight in the process, and
// plainLimit says how many there may be: half the processors, so that
// the others stay free for the goroutines a sync's waiters need. A lone
// sync (one client's commit) is plain: it returns with its thread, where
// one through the kernel's worker and the poller takes two more wake-ups
// (60 to 100 µs here). Every sync beyond the limit (many clients, every
// member syncing) goes through the kernel's asynchronous fsync.
var (
	plainSyncs    atomic.Int32
	plainOverride atomic.Int32 // tests: n+1 sets the limit to n
)

// afterSubmit, when set (tests), runs right after each asynchronous
// sync's submission.
var afterSubmit atomic.Pointer[func()]

func plainLimit() int32 {
	if o := plainOverride.Load(); o > 0 {
		return o - 1
	}
	return int32(runtime.GOMAXPROCS(0) / 2)
}

// sync makes f's data durable, as fdatasync.
func (a *aioSync) sync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if plainSyncs.Add(1) <= plainLimit() {
		defer plainSyncs.Add(-1)
		return plainSync(f, rc)
	}
	plainSyncs.Add(-1)
	return a.syncAIO(f, rc)
}

// syncAsync makes f's data durable through the kernel's asynchronous
// fsync, or plainly where the kernel refuses.
func (a *aioSync) syncAsync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	return a.syncAIO(f, rc)
}

// syncAIO is syncAsync with f's raw connection.
func (a *aioSync) syncAIO(f *os.File, rc syscall.RawConn) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state == aioUnset {
		a.setup()
	}
	if a.state == aioOff {
		return plainSync(f, rc)
	}
	var (
		res        int64
		serr, werr error
	)
	if cerr := rc.Control(func(fd uintptr) { res, serr, werr = a.run(fd) }); cerr != nil {
		return cerr
	}
	if serr != nil {
		// Refused before it started (EINVAL: no asynchronous fsync for
		// this file): sync the ordinary way, from now on too.
		a.close()
		a.state = aioOff
		return plainSync(f, rc)
	}
	if werr != nil {
		// The wait itself failed, not the sync: the context goes, its
		// destruction waiting for the request, and so does the mode.
		a.close()
		a.state = aioOff
		return werr
	}
	if res < 0 {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: syscall.Errno(-res)}
	}
	return nil
}

// plainSync is fdatasync(2) in the calling thread.
func plainSync(f *os.File, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = ignoringEINTR(func() error { return syscall.Fdatasync(int(fd)) }) }); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// setup makes the context and the eventfd, or turns the file to plain
// syncs if the kernel refuses either.
func (a *aioSync) setup() {
	a.state = aioOff
	efd, _, e := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if e != 0 {
		return
	}
	var ctx uintptr
	if _, _, e := syscall.RawSyscall(syscall.SYS_IO_SETUP, 1, uintptr(unsafe.Pointer(&ctx)), 0); e != 0 {
		syscall.Close(int(efd))
		return
	}
	// Non-blocking, so reads wait in the runtime's poller.
	a.ev = os.NewFile(efd, "aio-eventfd")
	rc, err := a.ev.SyscallConn()
	if err != nil {
		a.ev.Close()
		syscall.Syscall(syscall.SYS_IO_DESTROY, ctx, 0, 0)
		return
	}
	a.ctx, a.efd, a.rc = ctx, efd, rc
	a.state = aioReady
}

// submit hands the kernel an fdatasync of fd.
func (a *aioSync) submit(fd uintptr) error {
	a.cb = iocb{opcode: iocbCmdFdsync, fildes: uint32(fd), flags: iocbFlagResfd, resfd: uint32(a.efd)}
	a.cbs[0] = &a.cb
	n, _, e := syscall.Syscall(syscall.SYS_IO_SUBMIT, a.ctx, 1, uintptr(unsafe.Pointer(&a.cbs[0])))
	if e != 0 {
		return e
	}
	if n != 1 {
		return syscall.EAGAIN
	}
	return nil
}

// run submits an fdatasync of fd and waits for it in the poller. It
// returns the sync's result (0, or a negated errno); serr is a refused
// submission (nothing started), werr a failure of the wait itself.
//
// It takes two system calls: the submission, and the collection of the
// completion once the poller has seen the eventfd signalled. The
// eventfd's count is never read: the kernel signals the poller on every
// completion whatever the count, and each request is collected from the
// context, not counted on the eventfd. Reading the count took two more
// calls a sync (one that found nothing yet, one after the signal), and
// on this machine's virtual processors a system call costs 10 to 20 µs.
//
// The request is submitted from within the poller's read, after the
// read has cleared the eventfd's readiness: a completion signalled
// before the clearing would be lost, and the wait would never end.
func (a *aioSync) run(fd uintptr) (res int64, serr, werr error) {
	submitted, collected := false, false
	rerr := a.rc.Read(func(uintptr) bool {
		if !submitted {
			submitted = true
			if serr = a.submit(fd); serr != nil {
				return true
			}
			if f := afterSubmit.Load(); f != nil {
				(*f)()
			}
			return false // a sync takes far longer than a system call
		}
		zero := syscall.Timespec{}
		for {
			n, _, e := syscall.Syscall6(syscall.SYS_IO_GETEVENTS, a.ctx, 0, 1, uintptr(unsafe.Pointer(&a.events[0])), uintptr(unsafe.Pointer(&zero)), 0)
			switch {
			case e == syscall.EINTR:
				continue
			case e != 0:
				werr = e
				return true
			case n == 0:
				return false // a signal of an earlier request, or none
			}
			collected = true
			return true
		}
	})
	switch {
	case serr != nil:
		return 0, serr, nil
	case rerr != nil:
		return 0, nil, rerr
	case werr != nil:
		return 0, nil, werr
	case !collected:
		return 0, nil, syscall.EIO
	}
	return a.events[0].res, nil, nil
}

// close releases the context and the eventfd.
func (a *aioSync) close() {
	if a.state != aioReady {
		return
	}
	syscall.Syscall(syscall.SYS_IO_DESTROY, a.ctx, 0, 0)
	a.ev.Close()
	a.ev, a.rc, a.ctx, a.efd = nil, nil, 0, 0
}
