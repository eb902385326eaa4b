package main

import (
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// A local cluster started without --data-dir keeps its certificates in a
// directory of its own under os.TempDir(), which Close removes. A process
// killed with SIGKILL (or by the kernel's OOM killer, or a power cut)
// never gets there, so the directory stays. Each such directory holds a
// lock file that its process keeps locked (flock) while it runs: the
// kernel lets go of the lock when the process dies, however it dies, so a
// lock that can be taken means the directory's process is gone. The next
// local cluster's start removes those. A lock is the test, not a pid
// written down: a pid is used again by other processes, and a lock is
// held by nothing else.

const (
	tempCertsPrefix = "wissenheim-certs-"
	tempCertsLock   = "lock"
	// tempCertsGrace is how old a lock file must be before its directory
	// may be swept: a process that has just made its directory and its
	// lock file has not locked it yet.
	tempCertsGrace = time.Minute
)

// makeTempCerts removes the certificate directories that dead processes
// left in os.TempDir(), then makes one for this process, whose lock file
// stays locked until the returned file is closed.
func makeTempCerts() (dir string, lock *os.File, err error) {
	sweepTempCerts(os.TempDir(), time.Now())
	dir, err = os.MkdirTemp("", tempCertsPrefix)
	if err != nil {
		return "", nil, err
	}
	lock, err = os.OpenFile(filepath.Join(dir, tempCertsLock), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		// Blocking: a sweep that took the lock to look lets go at once,
		// as the file is too young to be swept.
		if err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			lock.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, lock, nil
}

// sweepTempCerts removes from tmp the certificate directories of local
// clusters whose process is gone: their lock file is older than
// tempCertsGrace and no process holds it. A directory without a lock
// file is left alone (one just made, or not ours). Errors are ignored:
// the sweep only tidies up.
func sweepTempCerts(tmp string, now time.Time) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, tempCertsPrefix+"*"))
	for _, d := range dirs {
		f, err := os.Open(filepath.Join(d, tempCertsLock))
		if err != nil {
			continue
		}
		st, err := f.Stat()
		if err == nil && now.Sub(st.ModTime()) >= tempCertsGrace &&
			syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			os.RemoveAll(d) // with the lock held, so that two sweeps do not race
		}
		f.Close()
	}
}
