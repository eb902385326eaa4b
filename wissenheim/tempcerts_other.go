//go:build !linux

package main

import "os"

// makeTempCerts makes the certificate directory of a local cluster
// started without --data-dir. Only on Linux does it hold a lock by which
// a later start finds, and removes, the directories of processes that
// died before their Close.
func makeTempCerts() (dir string, lock *os.File, err error) {
	dir, err = os.MkdirTemp("", "wissenheim-certs-")
	return dir, nil, err
}
