package admin_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"go.uber.org/goleak"
)

func TestRevocationsEndpoint(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if rs, err := c.Revocations(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("revocations of a new cluster: %v %v", rs, err)
	}
	byName, err := c.Revoke(ctx, "n3", "")
	if err != nil || byName.Name != "n3" || byName.Serial != "" || byName.At.IsZero() || byName.By != "node1" {
		t.Fatalf("revoke by name: %+v %v", byName, err)
	}
	bySerial, err := c.Revoke(ctx, "n2", "0A:FF")
	if err != nil || bySerial.Serial != "aff" {
		t.Fatalf("revoke by serial: %+v %v", bySerial, err)
	}
	rs, err := c.Revocations(ctx)
	if err != nil || len(rs) != 2 || rs[0].Name != "n2" || rs[1].Name != "n3" {
		t.Fatalf("revocations: %+v %v", rs, err)
	}
	for _, bad := range []struct{ name, serial string }{{"../x", ""}, {"n1", "xyz"}, {"n1", "0"}, {"", ""}} {
		_, err := c.Revoke(ctx, bad.name, bad.serial)
		if se, ok := err.(*admin.StatusError); !ok || se.Code != http.StatusBadRequest {
			t.Errorf("revoke %q %q: %v, want a bad request", bad.name, bad.serial, err)
		}
	}
	// The heap directory does not list revocations.
	if hs, err := c.Heaps(ctx); err != nil || len(hs) != 0 {
		t.Fatalf("heaps: %+v %v", hs, err)
	}
}

func TestParseSerial(t *testing.T) {
	for in, want := range map[string]string{"aff": "aff", "0xAFF": "aff", "0a:ff": "aff", "serial=0AFF": "aff"} {
		v, err := admin.ParseSerial(in)
		if err != nil || v.Text(16) != want {
			t.Errorf("%q: %v %v", in, v, err)
		}
	}
	for _, in := range []string{"", "0", "-1", "zz", "0x"} {
		if _, err := admin.ParseSerial(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
	_ = oss.ErrRevoked
}
