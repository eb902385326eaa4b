package gossip

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"go.uber.org/goleak"
)

// serverConn is a gossip stream of a server: what it sent, then its end.
type serverConn struct {
	net.Conn
	r io.Reader
}

func (c *serverConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c *serverConn) Peer() (name, role string)   { return "s", "server" }
func (c *serverConn) Write(b []byte) (int, error) { return len(b), nil }

// memberlist allocates what a stream message's header claims before it
// reads the body: a push/pull of 2^20 member states (its limit) is a
// slice of 112 MiB, its user state 20 MiB more, a user message 20 MiB,
// for a header of a few bytes. A server's streams went to memberlist as
// they came, and a member may open 1024 streams a connection at once, so
// one server certificate could make a node allocate past its memory. A
// server's stream message is now read as a client's is (what came, not
// what was claimed), its states all kept, and one cut short is refused.
func TestServersClaimIsNotAllocatedBeforeItComes(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	g := &Transport{trusted: func(_, role string) bool { return role == "server" }}
	heads := map[string][]byte{
		"user message":           encodeClaim(t, msgUser, &userHeader{UserMsgLen: 20 << 20}),
		"push/pull of states":    encodeClaim(t, msgPushPull, &pushPullHeader{Nodes: 1 << 20}),
		"push/pull of user data": encodeClaim(t, msgPushPull, &pushPullHeader{UserStateLen: 20 << 20}),
	}
	for what, head := range heads {
		s := g.guard(&serverConn{r: io.MultiReader(bytes.NewReader(head), bytes.NewReader([]byte("a few bytes")))})
		if _, err := io.ReadAll(s); err == nil {
			t.Errorf("a server's %s claiming more than it sent was passed on", what)
		}
	}
}

// A server's push/pull that holds what it claims reaches memberlist
// whole: every member state it tells of, and its user state.
func TestServersPushPullIsKeptWhole(t *testing.T) {
	g := &Transport{trusted: func(_, role string) bool { return role == "server" }}
	var in bytes.Buffer
	in.WriteByte(msgPushPull)
	enc := codec.NewEncoder(&in, &codec.MsgpackHandle{})
	states := []pushNodeState{{Name: "s", Port: 1}, {Name: "a", Port: 2}, {Name: "b", Port: 3, State: 2}}
	if err := enc.Encode(&pushPullHeader{Nodes: len(states), UserStateLen: 3}); err != nil {
		t.Fatal(err)
	}
	for i := range states {
		if err := enc.Encode(&states[i]); err != nil {
			t.Fatal(err)
		}
	}
	in.WriteString("usr")
	in.WriteString("after")
	want := in.Bytes()
	got, err := io.ReadAll(g.guard(&serverConn{r: bytes.NewReader(want)}))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("a server's push/pull came out as %q (%v), not %q", got, err, want)
	}
}
