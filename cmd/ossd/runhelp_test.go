package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

// "ossd run --help" begins with the command's synopsis, as every other
// command's does: it listed the flags alone, under "Usage of ossd run:",
// without saying what the command does or which flags a first node needs.
func TestRunHelpSaysWhatItDoes(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		out, err := captureStderr(t, func() error { return dispatch([]string{"run", arg}) })
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("ossd run %s: %v, want flag.ErrHelp (exit status 0)\n%s", arg, err, out)
		}
		for _, want := range []string{"Usage: ossd run --name NAME --certs DIR", "until SIGINT or SIGTERM", "bootstraps a new cluster", "-join string"} {
			if !strings.Contains(out, want) {
				t.Errorf("ossd run %s said:\n%s\nwant it to hold %q", arg, out, want)
			}
		}
		if !strings.HasPrefix(out, "Usage: ossd run") {
			t.Errorf("ossd run %s does not begin with its synopsis:\n%s", arg, out)
		}
	}
}
