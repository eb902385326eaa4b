package transport_test

import (
	"testing"
)

// TestNodeOfAnotherGroupHoldsNoNameHere: two clusters may share a CA and
// node names. Node a (group 1) reached "b" at an address where a node b
// of another group (2) now runs: its cluster's b was started there anew,
// or the address was handed to another cluster. When the b of a's group
// connects from its new address, that other group's b, answering at the
// old one, holds no name in a's group: the connection is taken, where
// it was refused as a second holder of b's certificate and a's b could
// not join its own cluster for as long as the other ran. Once a is told
// b's new address, what it sends b goes there, not on into the stream it
// had opened to the other group's b.
func TestNodeOfAnotherGroupHoldsNoNameHere(t *testing.T) {
	c := newCluster(t, "a")
	ctx := ctxT(t)
	a := c.nodes["a"]
	a.SetGroup(1)
	otherRec := newRecorder()
	other := startOn(t, c, "b", nil, otherRec)
	other.SetGroup(2)
	a.SetPeer("b", other.Addr().String())
	if err := a.Send(ctx, "b", []byte("to the old address")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a's message at the other group's b", func() bool { return otherRec.count("a") == 1 })

	ownRec := newRecorder()
	own := startOn(t, c, "b", nil, ownRec)
	own.SetGroup(1)
	own.SetPeer("a", a.Addr().String())
	if _, err := own.Call(ctx, "a", []byte("b, of a's group, from a new address")); err != nil {
		t.Fatalf("a refused the b of its own group while a node b of another group answers elsewhere: %v", err)
	}
	a.SetPeer("b", own.Addr().String())
	if err := a.Send(ctx, "b", []byte("to the new address")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a's message at its group's b", func() bool { return ownRec.count("a") == 1 })
	if n := otherRec.count("a"); n != 1 {
		t.Fatalf("the other group's b got %d of a's messages, want the first alone", n)
	}

	// Within one group the second holder is still refused.
	imp := startOn(t, c, "b", nil, newRecorder())
	imp.SetGroup(1)
	imp.SetPeer("a", a.Addr().String())
	if _, err := imp.Call(ctx, "a", []byte("i am b too")); err == nil {
		t.Fatal("a second b of a's own group was taken while the first answers")
	}
}
