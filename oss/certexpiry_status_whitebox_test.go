package oss

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	ipki "github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/oss/pki"
)

// A certificate near its expiry shows in the status of every node
// connected to its node, and in its own node's: b runs on a certificate
// with 5 minutes left of an hour (less than the tenth warned of), a on a
// fresh one. Until 2026-12-06 only b's log said so; an ossd status asked
// 10 s before b's certificate expired showed nothing amiss, and 11 s
// later b was cut off.
func TestStatusListsCertificatesNearExpiry(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := newQUICCluster(t, "a")
	ca, err := ipki.LoadCA(c.caCert, c.caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue("b", ipki.RoleServer, time.Now().Add(-55*time.Minute), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.launch("b", pki.RoleServer, func(cfg *Config) { cfg.TLS.CertPEM, cfg.TLS.KeyPEM = cert, key })
	if err != nil {
		t.Fatal(err)
	}
	own, _ := b.Certificate()
	lists := func(st ClusterStatus, name string) bool {
		for _, e := range st.Expiring {
			if e.Node == name {
				return e.Serial == own.Serial.Text(16) && e.Expires.Equal(own.NotAfter)
			}
		}
		return false
	}
	var st ClusterStatus
	waitCond(t, "a's status to list b's certificate as expiring", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st = c.nodes["a"].Status(ctx)
		return lists(st, "b")
	})
	if len(st.Expiring) != 1 {
		t.Fatalf("a's status lists %+v as expiring; want b's certificate alone (a's has most of its hour left)", st.Expiring)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st := b.Status(ctx); !lists(st, "b") || len(st.Expiring) != 1 {
		t.Fatalf("b's status lists %+v as expiring; want its own certificate alone", st.Expiring)
	}
}
