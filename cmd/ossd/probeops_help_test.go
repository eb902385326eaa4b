package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// "ossd COMMAND --help" says what the command takes, exits 0, and
// contacts no node. get, put, heaps and cert revoke listed their flags
// alone, never their arguments; "acl --help" tried the default node and
// failed with "unknown subcommand"; "ca --help", "cert --help" and
// "debug --help" failed with status 1.
func TestEveryCommandHelpSaysWhatItTakes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"get", "--help"}, []string{"ossd get HEAP ROOT|OBJECT-ID", "-fresh"}},
		{[]string{"put", "-h"}, []string{"ossd put HEAP ROOT JSON", "ossd put HEAP ROOT -", "outcome is unknown"}},
		{[]string{"heaps", "--help"}, []string{"ossd heaps create NAME", "ossd heaps drop NAME"}},
		{[]string{"status", "--help"}, []string{"Usage: ossd status"}},
		{[]string{"cert", "revoke", "--help"}, []string{"ossd cert revoke NAME", "-serial"}},
		{[]string{"cert", "revocations", "--help"}, []string{"ossd cert revocations"}},
		{[]string{"ca", "init", "--help"}, []string{"ossd ca init --dir DIR"}},
		{[]string{"cert", "issue", "--help"}, []string{"ossd cert issue --dir DIR --name NAME"}},
		{[]string{"acl", "--help"}, []string{"ossd acl grant", "ossd acl list"}},
		{[]string{"ca", "--help"}, []string{"ossd ca init"}},
		{[]string{"cert", "--help"}, []string{"ossd cert issue", "ossd cert revoke", "ossd cert revocations"}},
		{[]string{"debug", "--help"}, []string{"ossd debug bundle"}},
	} {
		out, err := captureStderr(t, func() error {
			// An address nothing listens on: help must not dial it.
			t.Setenv("OSS_HTTP", "127.0.0.1:1")
			return dispatch(tc.args)
		})
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("ossd %s: %v, want flag.ErrHelp (exit status 0)\n%s", strings.Join(tc.args, " "), err, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("ossd %s said:\n%s\nwant it to hold %q", strings.Join(tc.args, " "), out, w)
			}
		}
	}
}

// captureStderr runs f with os.Stderr going to a file and returns what
// was written there.
func captureStderr(t *testing.T, f func() error) (string, error) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "stderr")
	file, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = file
	ferr := f()
	os.Stderr = old
	file.Close()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), ferr
}
