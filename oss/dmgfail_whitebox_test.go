package oss

import (
	"context"
	"math/big"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// A damaged node refuses to revoke a certificate with its damage, as it
// refuses a grant's change: before, the revocation went to the lost
// catalog replica and failed with "oss: closed", which an admin client
// does not send on to another node, and which does not say what to do.
func TestDamagedNodeRefusesRevocation(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	n, err := Start(context.Background(), &Config{Name: "a", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !loseCatalog(n.catalog.Load()) {
		t.Fatal("the catalog replica was not lost")
	}
	_, err = n.RevokeCertificate(ctx, "mallory", big.NewInt(7))
	wantDamage(t, "RevokeCertificate", err)
}
