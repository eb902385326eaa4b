package main

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// "ossd cert revoke NAME" revokes every certificate of NAME the CA's
// register lists even when the node that records the revocation has a
// clock behind the CA host's: the cutoff (At) it sets by its own clock
// came before the newest certificate's NotBefore, which stayed valid
// while the command said every certificate of NAME was revoked. Such a
// certificate is revoked by serial, and the command names the clock.
func TestCertRevokeByNameCoversACertificateIssuedByAClockAhead(t *testing.T) {
	dir := caDir(t)
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n1"}); err != nil {
		t.Fatal(err)
	}
	// The CA host's clock is an hour ahead of the node's: its newest
	// certificate of n1 was issued, by that clock, an hour from now.
	later := time.Now().Add(time.Hour).Truncate(time.Second)
	ahead := pki.CertInfo{Name: "n1", Role: pki.RoleServer, Serial: big.NewInt(0x5eed),
		NotBefore: later.Add(-pki.Backdate), NotAfter: later.Add(24 * time.Hour)}
	if err := recordIssued(dir, ahead); err != nil {
		t.Fatal(err)
	}
	n, flags := insecureAdmin(t)
	out, err := captureStdout(t, func() error {
		return dispatch(append([]string{"cert", "revoke", "n1", "--ca-dir", dir}, flags...))
	})
	if err != nil {
		t.Fatal(err)
	}
	reg, _, err := readRegister(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ic := range reg {
		covered := false
		for _, r := range n.Revocations() {
			covered = covered || r.Covers("n1", ic.Serial, ic.NotBefore)
		}
		if !covered {
			t.Errorf("the certificate of n1 with serial %s (NotBefore %v) is not revoked: %+v", ic.Serial.Text(16), ic.NotBefore, n.Revocations())
		}
	}
	if !strings.Contains(out, "5eed") || !strings.Contains(out, "clock") {
		t.Errorf("the revocation said %q, want the certificate issued after its cutoff named, and the clock", out)
	}
}
