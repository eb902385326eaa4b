package oss_test

import (
	"context"
	"errors"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A grant names a certificate's holder, so its name is one a certificate
// can carry (pki.CheckName, as "ossd cert issue" and revocations check):
// "ossd acl grant --to 'bad name'" was recorded, a grant no certificate
// could ever use, where a typo deserved a refusal.
func TestGrantToANameNoCertificateCarriesIsRefused(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	for _, who := range []string{"bad name", "a/b", "-x", "x..y", "ünï"} {
		err := n.Grant(ctx, oss.Grant{Who: who, Heap: "h", Perm: oss.PermRead})
		if !errors.Is(err, oss.ErrInvalidArgument) {
			t.Errorf("grant to %q: %v; want ErrInvalidArgument", who, err)
		}
	}
	if err := n.Grant(ctx, oss.Grant{Who: "app-1.eu", Heap: "h", Perm: oss.PermRead}); err != nil {
		t.Fatalf("grant to app-1.eu: %v", err)
	}
	if gs := n.Grants(); len(gs) != 1 {
		t.Fatalf("grants: %v; want app-1.eu's alone", gs)
	}
}
