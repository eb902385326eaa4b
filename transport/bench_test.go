package transport_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/transport"
	"github.com/quic-go/quic-go"
)

type counting struct {
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (c *counting) HandleMessage(from string, msg []byte) {
	if c.n.Add(1) == c.want {
		close(c.done)
	}
}

func (c *counting) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	return req, nil
}

// bareEcho starts a quic-go listener that echoes each stream, the floor the
// transport is measured against.
func bareEcho(b *testing.B, ca *pki.CA) (addr string, stop func()) {
	cert, key, _ := ca.Issue("bare", pki.RoleServer, time.Now(), time.Hour)
	pair, _ := tls.X509KeyPair(cert, key)
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: []string{"bare"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			go func() {
				for {
					s, err := c.AcceptStream(context.Background())
					if err != nil {
						return
					}
					go func() {
						buf := make([]byte, 256)
						for {
							n, err := s.Read(buf)
							if n > 0 {
								s.Write(buf[:n])
							}
							if err != nil {
								s.Close()
								return
							}
						}
					}()
				}
			}()
		}
	}()
	return ln.Addr().String(), func() { ln.Close(); <-done }
}

func dialBare(b *testing.B, addr string) *quic.Conn {
	c, err := quic.DialAddr(context.Background(), addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"bare"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkRoundTrip compares a transport Call on an established
// connection with bare quic-go round trips measured in the same run: a new
// stream per request (what Call does) and one reused stream.
func BenchmarkRoundTrip(b *testing.B) {
	defer goleakIgnore()
	req := make([]byte, 64)
	b.Run("transport-call", func(b *testing.B) {
		c := newCluster(b, "a", "b")
		ctx := context.Background()
		if _, err := c.nodes["a"].Call(ctx, "b", req); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := c.nodes["a"].Call(ctx, "b", req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-stream-per-request", func(b *testing.B) {
		addr, stop := bareEcho(b, newCA(b))
		defer stop()
		conn := dialBare(b, addr)
		defer conn.CloseWithError(0, "")
		buf := make([]byte, len(req))
		for b.Loop() {
			s, err := conn.OpenStreamSync(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			s.Write(req)
			s.Close()
			if _, err := io.ReadFull(s, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-one-stream", func(b *testing.B) {
		addr, stop := bareEcho(b, newCA(b))
		defer stop()
		conn := dialBare(b, addr)
		defer conn.CloseWithError(0, "")
		s, _ := conn.OpenStreamSync(context.Background())
		buf := make([]byte, len(req))
		for b.Loop() {
			s.Write(req)
			if _, err := io.ReadFull(s, buf); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
	})
}

// pong answers every one-way message with the same message; ping signals
// each one that comes back.
type pong struct {
	counting
	tr   *transport.QUIC
	back chan struct{}
}

func (p *pong) HandleMessage(from string, msg []byte) {
	if p.back != nil {
		p.back <- struct{}{}
		return
	}
	p.tr.Send(context.Background(), from, msg)
}

// BenchmarkSendRoundTrip sends a 100-byte one-way message and waits for
// the peer's one-way answer, one at a time: the path of a raft append and
// its acknowledgement between two nodes that are otherwise idle.
func BenchmarkSendRoundTrip(b *testing.B) {
	c := &cluster{ca: newCA(b), logs: &logBuffer{}, nodes: map[string]*transport.QUIC{}}
	ping := &pong{back: make(chan struct{}, 1)}
	echo := &pong{}
	from := c.start(b, "from", "", ping)
	to := c.start(b, "to", "", echo)
	echo.tr = to
	defer to.Close()
	defer from.Close()
	from.SetPeer("to", to.Addr().String())
	to.SetPeer("from", from.Addr().String())
	msg := make([]byte, 100)
	ctx := context.Background()
	for range 100 { // connections and streams up both ways
		if err := from.Send(ctx, "to", msg); err != nil {
			b.Fatal(err)
		}
		<-ping.back
	}
	for b.Loop() {
		if err := from.Send(ctx, "to", msg); err != nil {
			b.Fatal(err)
		}
		<-ping.back
	}
}

// BenchmarkMessages sends 100-byte one-way messages from one node to
// another and reports delivered messages per second.
func BenchmarkMessages(b *testing.B) {
	ca := newCA(b)
	c := &cluster{ca: ca, logs: &logBuffer{}, nodes: map[string]*transport.QUIC{}}
	recv := &counting{want: int64(b.N), done: make(chan struct{})}
	to := c.start(b, "to", "", recv)
	from := c.start(b, "from", "", &counting{done: make(chan struct{})})
	defer to.Close()
	defer from.Close()
	from.SetPeer("to", to.Addr().String())
	msg := make([]byte, 100)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if err := from.Send(ctx, "to", msg); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-recv.done:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d messages delivered", recv.n.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func goleakIgnore() {}

func (c *counting) HandleStream(ctx context.Context, from string, header []byte, body io.Reader) error {
	_, err := io.Copy(io.Discard, body)
	return err
}

// BenchmarkStream compares SendStream's throughput with a bare quic-go
// stream carrying the same bytes in the same run.
func BenchmarkStream(b *testing.B) {
	const size = 64 << 20
	body := make([]byte, size)
	b.Run("transport-stream", func(b *testing.B) {
		c := &cluster{ca: newCA(b), logs: &logBuffer{}, nodes: map[string]*transport.QUIC{}}
		to := c.start(b, "to", "", &counting{done: make(chan struct{})})
		from := c.start(b, "from", "", &counting{done: make(chan struct{})})
		defer to.Close()
		defer from.Close()
		from.SetPeer("to", to.Addr().String())
		b.SetBytes(size)
		for b.Loop() {
			if err := from.SendStream(context.Background(), "to", []byte("snap"), bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-stream", func(b *testing.B) {
		ca := newCA(b)
		cert, key, _ := ca.Issue("bare", pki.RoleServer, time.Now(), time.Hour)
		pair, _ := tls.X509KeyPair(cert, key)
		ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: []string{"bare"}}, &quic.Config{MaxStreamReceiveWindow: 16 << 20, MaxConnectionReceiveWindow: 64 << 20})
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			for {
				s, err := c.AcceptStream(context.Background())
				if err != nil {
					return
				}
				io.Copy(io.Discard, s)
				s.Write([]byte{1})
				s.Close()
			}
		}()
		conn := dialBare(b, ln.Addr().String())
		defer conn.CloseWithError(0, "")
		b.SetBytes(size)
		ack := make([]byte, 1)
		for b.Loop() {
			s, err := conn.OpenStreamSync(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			io.CopyBuffer(s, bytes.NewReader(body), make([]byte, 256<<10))
			s.Close()
			if _, err := io.ReadFull(s, ack); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// heartbeats is a Handler that signals every small message and counts
// the large ones.
type heartbeats struct {
	small chan struct{}
	large atomic.Int64
}

func (h *heartbeats) HandleMessage(from string, msg []byte) {
	if len(msg) > 1<<10 {
		h.large.Add(1)
		return
	}
	h.small <- struct{}{}
}

func (h *heartbeats) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	return req, nil
}

func (h *heartbeats) HandleStream(ctx context.Context, from string, header []byte, body io.Reader) error {
	return nil
}

// BenchmarkHeartbeatBehindAppends measures how long a 64-byte message
// takes to reach a peer while 4 MiB messages (raft appends) keep the
// peer's message queue full: sent with Send, on the appends' stream
// ("one-stream", as every message went before), and with SendControl
// ("control-stream"). ns/op is that latency.
func BenchmarkHeartbeatBehindAppends(b *testing.B) {
	for _, control := range []bool{false, true} {
		name := "one-stream"
		if control {
			name = "control-stream"
		}
		b.Run(name, func(b *testing.B) {
			c := &cluster{ca: newCA(b), logs: &logBuffer{}, nodes: map[string]*transport.QUIC{}}
			recv := &heartbeats{small: make(chan struct{}, 1)}
			to := c.start(b, "to", "", recv)
			from := c.start(b, "from", "", &counting{done: make(chan struct{})})
			defer to.Close()
			defer from.Close()
			from.SetPeer("to", to.Addr().String())
			ctx, cancel := context.WithCancel(context.Background())
			appends := make(chan struct{})
			go func() {
				defer close(appends)
				msg := make([]byte, 4<<20)
				for ctx.Err() == nil {
					if err := from.Send(ctx, "to", msg); err != nil {
						time.Sleep(time.Millisecond) // the queue is full
					}
				}
			}()
			defer func() {
				cancel()
				<-appends
			}()
			for recv.large.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			send := from.Send
			if control {
				send = from.SendControl
			}
			hb := make([]byte, 64)
			for b.Loop() {
				for {
					err := send(context.Background(), "to", hb)
					if err == nil {
						break
					}
					if !errors.Is(err, transport.ErrQueueFull) {
						b.Fatal(err)
					}
					// Dropped (raft would send the next heartbeat a
					// tick later); try again as soon as there is room.
					time.Sleep(100 * time.Microsecond)
				}
				<-recv.small
			}
			b.ReportMetric(float64(recv.large.Load()*4)/b.Elapsed().Seconds(), "MiB-appends/s")
		})
	}
}
