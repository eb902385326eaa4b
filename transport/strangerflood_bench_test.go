package transport_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/transport"
	"github.com/quic-go/quic-go"
)

// strangerPair returns a certificate of a CA of its holder's own, for
// the server role and a node's name: what anyone can make.
func strangerPair(tb testing.TB, cn string) tls.Certificate {
	tb.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stranger CA"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: cn, OrganizationalUnit: []string{pki.RoleServer}},
		DNSNames:     []string{cn},
		NotBefore:    time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// strangerDial makes one handshake of a stranger with the node at addr,
// and waits for its refusal: the TLS 1.3 client is done before the
// server has seen its certificate.
func strangerDial(addr string, tr *quic.Transport, conf *tls.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ua, err := resolveUDP(addr)
	if err != nil {
		return
	}
	conn, err := tr.Dial(ctx, ua, conf, nil)
	if err == nil {
		select {
		case <-conn.Context().Done():
		case <-ctx.Done():
			conn.CloseWithError(0, "")
		}
	}
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStrangerHandshake: handshakes of a stranger (a certificate of
// another CA) with a node, one after the other, each from a loopback
// address of its own, so that none is paced: what a stranger's
// handshake costs. Both ends are in this process, and cpu-ms/op is
// both ends' CPU.
func BenchmarkStrangerHandshake(b *testing.B) {
	defer goleakIgnore()
	c := newCluster(b, "a")
	addr := c.nodes["a"].Addr().String()
	conf := &tls.Config{Certificates: []tls.Certificate{strangerPair(b, "a")}, InsecureSkipVerify: true, NextProtos: []string{transport.ALPN}}
	cpu := cpuTime()
	i := 0
	for b.Loop() {
		i++
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, byte(1+i>>16), byte(i>>8), byte(i))})
		if err != nil {
			b.Fatal(err)
		}
		tr := &quic.Transport{Conn: pc}
		strangerDial(addr, tr, conf)
		tr.Close()
		pc.Close()
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkStrangerHandshakePaced: BenchmarkStrangerHandshake's
// handshakes from one socket: past the first 16, paced, and most of
// them refused at their first packet. cpu-ms/op is what a stranger
// dialling as fast as it can from one address costs (its own side
// included).
func BenchmarkStrangerHandshakePaced(b *testing.B) {
	defer goleakIgnore()
	c := newCluster(b, "a")
	addr := c.nodes["a"].Addr().String()
	conf := &tls.Config{Certificates: []tls.Certificate{strangerPair(b, "a")}, InsecureSkipVerify: true, NextProtos: []string{transport.ALPN}}
	tr := bareTransport(b)
	cpu := cpuTime()
	for b.Loop() {
		strangerDial(addr, tr, conf)
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// floodRate is the handshakes a second each flooding goroutine of
// BenchmarkCallsUnderStrangerFlood offers (four: 400 a second, the
// outside probe's of "Found by probing the network"): the same offered
// load with and without a pace, so that the flood's own side costs
// about the same.
const floodRate = 100

// BenchmarkCallsUnderStrangerFlood: calls between two nodes while
// strangers handshake with the callee, flood goroutines at once, each
// from a socket of its own and at most floodRate a second.
func BenchmarkCallsUnderStrangerFlood(b *testing.B) {
	defer goleakIgnore()
	for _, flood := range []int{0, 4} {
		b.Run(map[int]string{0: "quiet", 4: "flood-4"}[flood], func(b *testing.B) {
			c := newCluster(b, "a", "b")
			addr := c.nodes["a"].Addr().String()
			conf := &tls.Config{Certificates: []tls.Certificate{strangerPair(b, "b")}, InsecureSkipVerify: true, NextProtos: []string{transport.ALPN}}
			ctx := context.Background()
			req := make([]byte, 64)
			if _, err := c.nodes["b"].Call(ctx, "a", req); err != nil {
				b.Fatal(err)
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var dials sync.Map
			for i := range flood {
				tr := bareTransport(b)
				wg.Go(func() {
					tick := time.NewTicker(time.Second / floodRate)
					defer tick.Stop()
					n := 0
					for {
						select {
						case <-stop:
							dials.Store(i, n)
							return
						case <-tick.C:
						}
						strangerDial(addr, tr, conf)
						n++
					}
				})
			}
			start := time.Now()
			for b.Loop() {
				if _, err := c.nodes["b"].Call(ctx, "a", req); err != nil {
					b.Fatal(err)
				}
			}
			el := time.Since(start)
			close(stop)
			wg.Wait()
			total := 0
			dials.Range(func(_, v any) bool { total += v.(int); return true })
			b.ReportMetric(float64(total)/el.Seconds(), "handshakes/s")
		})
	}
}

func resolveUDP(addr string) (*net.UDPAddr, error) { return net.ResolveUDPAddr("udp", addr) }

// bareTransport is a QUIC transport on a loopback socket of its own,
// closed when the benchmark ends.
func bareTransport(tb testing.TB) *quic.Transport {
	tb.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tr := &quic.Transport{Conn: pc}
	tb.Cleanup(func() { tr.Close(); pc.Close() })
	return tr
}
