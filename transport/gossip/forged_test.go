package gossip

import (
	"bytes"
	"compress/lzw"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/memberlist"
	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/transport"
)

// encodeMsg encodes a memberlist message as memberlist does: its type,
// then the value in msgpack.
func encodeMsg(t *testing.T, typ byte, v any) []byte {
	t.Helper()
	buf := bytes.NewBuffer([]byte{typ})
	if err := codec.NewEncoder(buf, &codec.MsgpackHandle{}).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type deadMsg struct {
	Incarnation uint32
	Node, From  string
}

type aliveMsg struct {
	Incarnation uint32
	Node        string
	Addr        []byte
	Port        uint16
	Meta        []byte
	Vsn         []uint8
}

func compound(parts ...[]byte) []byte {
	out := []byte{msgCompound, byte(len(parts))}
	for _, p := range parts {
		out = binary.BigEndian.AppendUint16(out, uint16(len(p)))
	}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func compress(t *testing.T, b []byte) []byte {
	var z bytes.Buffer
	w := lzw.NewWriter(&z, lzw.LSB, 8)
	w.Write(b)
	w.Close()
	return encodeMsg(t, msgCompress, compressed{Algo: 0, Buf: z.Bytes()})
}

// userOK passes a user message "leaving:NAME" only from NAME, as the
// node passes its leave announcements.
func userOK(from string, msg []byte) bool {
	name, ok := strings.CutPrefix(string(msg), "leaving:")
	return !ok || name == from
}

// TestUntrustedGossipKeepsOnlyItsOwn: of a client's packet, probes,
// answers, what it says of itself and the user messages userOK passes
// go through; what it says of another member does not, in a compound
// packet, compressed or not.
func TestUntrustedGossipKeepsOnlyItsOwn(t *testing.T) {
	ping := []byte{msgPing, 0x80}
	own := encodeMsg(t, msgAlive, aliveMsg{Incarnation: 3, Node: "eve", Addr: net.IPv4(127, 0, 0, 1).To4(), Port: 1})
	leave := encodeMsg(t, msgDead, deadMsg{Incarnation: 3, Node: "eve", From: "eve"})
	forged := encodeMsg(t, msgDead, deadMsg{Incarnation: 1<<32 - 1, Node: "a", From: "b"})
	suspect := encodeMsg(t, msgSuspect, deadMsg{Incarnation: 9, Node: "a", From: "eve"})
	claim := encodeMsg(t, msgAlive, aliveMsg{Incarnation: 9, Node: "a", Addr: net.IPv4(10, 0, 0, 1).To4(), Port: 1})
	for _, c := range []struct {
		name    string
		in      []byte
		want    []byte
		dropped int
	}{
		{"ping", ping, ping, 0},
		{"own alive", own, own, 0},
		{"own leave", leave, leave, 0},
		{"forged dead", forged, nil, 1},
		{"suspect of another", suspect, nil, 1},
		{"alive of another", claim, nil, 1},
		{"compound", compound(ping, forged, own, claim), compound(ping, own), 2},
		{"compound of one left", compound(forged, leave), leave, 1},
		{"compressed compound", compress(t, compound(ping, forged)), ping, 1},
		{"push/pull", []byte{6, 0x80}, nil, 1},
		{"user message", []byte("\x08hello"), []byte("\x08hello"), 0},
		{"own leave announced", []byte("\x08leaving:eve"), []byte("\x08leaving:eve"), 0},
		{"another's leave announced", compound(ping, []byte("\x08leaving:a")), ping, 1},
		{"empty", nil, nil, 1},
	} {
		got, dropped := ownOnly("eve", userOK, c.in)
		if !bytes.Equal(got, c.want) || dropped != c.dropped {
			t.Errorf("%s: got %x, %d left out; want %x, %d", c.name, got, dropped, c.want, c.dropped)
		}
	}
}

// member is a memberlist over a QUIC endpoint, as a node runs it.
type member struct {
	q     *transport.QUIC
	gt    *Transport
	ml    *memberlist.Memberlist
	mu    sync.Mutex
	left  map[string]bool
	leave chan string
	user  chan string // user messages received
}

func (m *member) NodeMeta(int) []byte { return nil }
func (m *member) NotifyMsg(b []byte) {
	select {
	case m.user <- string(b):
	default:
	}
}
func (m *member) GetBroadcasts(int, int) [][]byte { return nil }
func (m *member) LocalState(bool) []byte          { return nil }
func (m *member) MergeRemoteState([]byte, bool)   {}

func (m *member) NotifyJoin(*memberlist.Node)   {}
func (m *member) NotifyUpdate(*memberlist.Node) {}
func (m *member) NotifyLeave(n *memberlist.Node) {
	m.mu.Lock()
	m.left[n.Name] = true
	m.mu.Unlock()
	select {
	case m.leave <- n.Name:
	default:
	}
}

type noHandler struct{}

func (noHandler) HandleMessage(string, []byte) {}
func (noHandler) HandleCall(context.Context, string, []byte) ([]byte, error) {
	return nil, nil
}
func (noHandler) HandleStream(context.Context, string, []byte, io.Reader) error { return nil }

func endpoint(t *testing.T, ca *pki.CA, name, role string) *transport.QUIC {
	t.Helper()
	cert, key, err := ca.Issue(name, role, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	q, err := transport.NewQUIC(&transport.QUICConfig{Name: name, CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM,
		Handler: noHandler{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func startMember(t *testing.T, ca *pki.CA, name string) *member {
	t.Helper()
	m := &member{q: endpoint(t, ca, name, pki.RoleServer), left: map[string]bool{}, leave: make(chan string, 16), user: make(chan string, 16)}
	addr := m.q.Addr().(*net.UDPAddr)
	m.gt = New(m.q, addr.IP, addr.Port, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)),
		func(_, role string) bool { return role == pki.RoleServer }, userOK)
	mc := memberlist.DefaultLocalConfig()
	mc.Name, mc.Transport, mc.Events, mc.Delegate = name, m.gt, m, m
	mc.AdvertiseAddr, mc.AdvertisePort = addr.IP.String(), addr.Port
	mc.UDPBufferSize = transport.MaxDatagram
	mc.LogOutput = io.Discard
	ml, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	m.ml = ml
	t.Cleanup(func() { ml.Shutdown(); m.gt.Shutdown() })
	return m
}

// TestClientCannotDeclareAServerDead: a peer with a valid client
// certificate sends b memberlist's dead message about a, in b's name and
// at an incarnation no refutation can pass. b leaves it out and a stays
// alive; before, b declared a dead at once, and a could not refute it
// (its incarnation wrapped to 0).
func TestClientCannotDeclareAServerDead(t *testing.T) {
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a, b := startMember(t, ca, "a"), startMember(t, ca, "b")
	if _, err := b.ml.Join([]string{"a/" + a.q.Addr().String()}); err != nil {
		t.Fatal(err)
	}
	eve := endpoint(t, ca, "eve", pki.RoleClient)
	forged := encodeMsg(t, msgDead, deadMsg{Incarnation: 1<<32 - 1, Node: "a", From: "b"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for b.gt.Dropped() == 0 {
		if err := eve.SendDatagram(ctx, b.q.Addr().String(), "b", forged); err != nil {
			t.Fatal(err)
		}
		select {
		case who := <-b.leave:
			t.Fatalf("b declared %s dead on a client's word", who)
		case <-ctx.Done():
			t.Fatal("the forged packet was neither left out nor taken")
		case <-time.After(50 * time.Millisecond): // datagrams may be lost: send again
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left["a"] {
		t.Fatal("b declared a dead on a client's word")
	}
}

// TestClientCannotPushAServerDead: a peer with a valid client
// certificate opens memberlist's push/pull with b and hands it a state
// in which a is dead at an incarnation no refutation can pass. b keeps
// none of it, and a stays alive; before, b suspected a and declared it
// dead when the suspicion ran out.
func TestClientCannotPushAServerDead(t *testing.T) {
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a, b := startMember(t, ca, "a"), startMember(t, ca, "b")
	if _, err := b.ml.Join([]string{"a/" + a.q.Addr().String()}); err != nil {
		t.Fatal(err)
	}
	eve := endpoint(t, ca, "eve", pki.RoleClient)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	self := a.ml.LocalNode()
	msg := encodeMsg(t, msgPushPull, pushPullHeader{Nodes: 1})
	st := bytes.NewBuffer(nil)
	if err := codec.NewEncoder(st, &codec.MsgpackHandle{}).Encode(pushNodeState{Name: "a", Addr: self.Addr, Port: self.Port,
		Meta: self.Meta, Incarnation: 1<<32 - 1, State: int(memberlist.StateDead),
		Vsn: []uint8{self.PMin, self.PMax, self.PCur, self.DMin, self.DMax, self.DCur}}); err != nil {
		t.Fatal(err)
	}
	msg = append(msg, st.Bytes()...)
	c, err := eve.OpenRawStream(ctx, b.q.Addr().String(), "b")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	for b.gt.Dropped() == 0 {
		select {
		case who := <-b.leave:
			t.Fatalf("b declared %s dead on a client's push/pull", who)
		case <-ctx.Done():
			t.Fatal("the forged push/pull was neither left out nor taken")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestClientCannotAnnounceAnothersLeave: a client's user message over a
// stream saying that a leaves is refused; before, b's delegate got it.
func TestClientCannotAnnounceAnothersLeave(t *testing.T) {
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := startMember(t, ca, "b")
	eve := endpoint(t, ca, "eve", pki.RoleClient)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := append(encodeMsg(t, msgUser, userHeader{UserMsgLen: len("leaving:a")}), "leaving:a"...)
	c, err := eve.OpenRawStream(ctx, b.q.Addr().String(), "b")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	for b.gt.Dropped() == 0 {
		select {
		case got := <-b.user:
			t.Fatalf("b's delegate got %q from a client", got)
		case <-ctx.Done():
			t.Fatal("the forged leave was neither refused nor taken")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
