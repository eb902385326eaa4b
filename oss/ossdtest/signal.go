package ossdtest

import "os"

// Signal sends sig to the process: SIGHUP has "ossd run" reload its CA
// bundle, certificate and key.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }
