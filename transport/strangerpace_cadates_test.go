package transport_test

import (
	"context"
	"crypto/tls"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
	"github.com/quic-go/quic-go"
)

// A certificate the cluster's CA signed but out of its dates (expired,
// not yet valid) was taken for a stranger's, and its address paced. Its
// holder is a member misconfigured, known by the name certified: 48
// handshakes with such a certificate at once from one address are each
// refused for the certificate, none before it is seen.
func TestCertificateOfTheClusterOutOfItsDatesIsNotPaced(t *testing.T) {
	for _, tc := range []struct {
		name string
		from time.Time
	}{{"expired", time.Now().Add(-2 * time.Hour)}, {"not yet valid", time.Now().Add(10 * time.Minute)}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, "a")
			a := c.nodes["a"]
			certPEM, keyPEM, err := c.ca.Issue("y", pki.RoleServer, tc.from, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			conf := &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true, NextProtos: []string{transport.ALPN}}
			ua, err := resolveUDP(a.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			var refusedFirst atomic.Int32
			var wg sync.WaitGroup
			for range 4 {
				tr := bareTransport(t)
				wg.Go(func() {
					for range 12 {
						ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
						conn, err := tr.Dial(ctx, ua, conf, nil)
						if err == nil {
							<-conn.Context().Done()
						} else if te := (*quic.TransportError)(nil); errors.As(err, &te) && te.ErrorCode == quic.ConnectionRefused {
							refusedFirst.Add(1)
						}
						cancel()
					}
				})
			}
			await.Wait(t, &wg, "the handshakes")
			if n := refusedFirst.Load(); n != 0 || a.Stats().StrangersPaced != 0 {
				t.Fatalf("%d of 48 handshakes refused before the certificate was seen (StrangersPaced %d)", n, a.Stats().StrangersPaced)
			}
		})
	}
}
