package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// "ossd run" with TLS material missing names the command that makes it:
// the CA's for a --certs directory that does not exist, the node's own
// for a --name that has no certificate (a node run without --name is
// named after the host). It used to say only "no such file or
// directory".
func TestRunNamesTheCommandForMissingCerts(t *testing.T) {
	certs := probeCerts(t) // n1's
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--name", "n1", "--certs", filepath.Join(t.TempDir(), "nocerts")}, "ossd ca init --dir "},
		{[]string{"--name", "n9", "--certs", certs}, `ossd cert issue --dir ` + certs + ` --name n9"`},
	} {
		args := append([]string{"run", "--listen", "127.0.0.1:0", "--http", "", "--data-dir", t.TempDir()}, tc.args...)
		err := dispatch(args)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("ossd %v: %v, want the missing file and %q", args, err, tc.want)
		}
	}
}
