package ossdtest

import (
	"context"
	"os"
)

// Signal sends sig to the process: SIGHUP has "ossd run" reload its CA
// bundle, certificate and key.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits until the process exits, or ctx ends, and returns how it
// exited: nil for status 0, an *exec.ExitError for another status or a
// signal, ctx's error if it ended first.
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		p.Client.Close()
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
