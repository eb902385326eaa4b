package main

import (
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
)

// byNameRevocation returns the revocation by name of name n holds.
func byNameRevocation(t *testing.T, n *oss.Node, name string) oss.Revocation {
	t.Helper()
	for _, r := range n.Revocations() {
		if r.Name == name && r.Serial == nil {
			return r
		}
	}
	t.Fatalf("no revocation by name of %s in %+v", name, n.Revocations())
	return oss.Revocation{}
}

// "ossd cert revoke NAME" run a second time recorded the revocation by
// name anew and moved its cutoff (At) to the second run's time, though
// every certificate of NAME the CA issued was revoked by the first. It
// is reported as revoked already now, and the cutoff stays; once a
// certificate of NAME is issued since, a revocation by name records
// anew and moves the cutoff over it, as before.
func TestCertRevokeByNameTwiceKeepsTheCutoff(t *testing.T) {
	dir := caDir(t)
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n1"}); err != nil {
		t.Fatal(err)
	}
	n, flags := insecureAdmin(t)
	revoke := func() string {
		t.Helper()
		out, err := captureStdout(t, func() error {
			return dispatch(append([]string{"cert", "revoke", "n1", "--ca-dir", dir}, flags...))
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	revoke()
	first := byNameRevocation(t, n, "n1")
	// The second run comes in a later second than the first: the cutoff
	// it recorded would differ.
	time.Sleep(time.Until(first.At.Truncate(time.Second).Add(time.Second)))
	if out := revoke(); !strings.Contains(out, "revoked already") || !strings.Contains(out, "nothing to do") || !strings.Contains(out, "--unlisted") {
		t.Errorf("second revocation by name said %q, want it reported as revoked already", out)
	}
	if again := byNameRevocation(t, n, "n1"); !again.At.Equal(first.At) {
		t.Fatalf("a second revocation by name moved the cutoff from %v to %v", first.At, again.At)
	}

	// A certificate of n1 issued since is not covered: revoking by name
	// again covers it.
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n1", "--force"}); err != nil {
		t.Fatal(err)
	}
	if out := revoke(); strings.Contains(out, "revoked already") {
		t.Fatalf("revocation by name after a new certificate of n1 said %q, want it recorded", out)
	}
	if third := byNameRevocation(t, n, "n1"); !third.At.After(first.At) {
		t.Fatalf("the revocation by name after a new certificate kept the cutoff %v, want it moved past it", third.At)
	}
}
