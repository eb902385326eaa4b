package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

// ossd acl's help gives acl list with its --json, as ossd help and the
// README do; it gave "ossd acl list" alone, the flag only in the list of
// flags below.
func TestACLHelpGivesListsJSON(t *testing.T) {
	out, err := captureStderr(t, func() error {
		t.Setenv("OSS_HTTP", "127.0.0.1:1")
		return dispatch([]string{"acl", "list", "--help"})
	})
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("ossd acl list --help: %v\n%s", err, out)
	}
	if !strings.Contains(out, "ossd acl list [--json]") {
		t.Errorf("ossd acl list --help said:\n%s\nwant the synopsis %q", out, "ossd acl list [--json]")
	}
}
