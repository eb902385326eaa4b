package transport_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/objectsharing/oss/transport"
)

// lifeHandler answers each call with nothing, and keeps the caller's
// life (transport.CallerLife) of the last.
type lifeHandler struct {
	lives chan transport.Life
}

func (lifeHandler) HandleMessage(string, []byte) {}

func (lifeHandler) HandleStream(context.Context, string, []byte, io.Reader) error { return nil }

func (h lifeHandler) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	l, err := transport.CallerLife(ctx)
	if err != nil {
		return nil, err
	}
	h.lives <- l
	return nil, nil
}

// The life of the process a call came from (CallerLife, asked in
// HandleCall) is the one that answers at its address (ReachAsLife), and
// another process's is not: package oss tells a node's restart from a
// second process claiming its address so. A context that is no call's
// names no caller.
func TestCallerLifeIsTheLifeAnsweringAtItsAddress(t *testing.T) {
	c := newCluster(t, "b", "c")
	h := lifeHandler{lives: make(chan transport.Life, 2)}
	a := c.start(t, "a", "", h)
	ctx := ctxT(t)
	var lives []transport.Life
	for _, name := range []string{"b", "c"} {
		c.nodes[name].SetPeer("a", a.Addr().String())
		if _, err := c.nodes[name].Call(ctx, "a", nil); err != nil {
			t.Fatal(err)
		}
		lives = append(lives, <-h.lives)
	}
	atB, err := a.ReachAsLife(ctx, c.nodes["b"].Addr().String(), "b")
	if err != nil {
		t.Fatal(err)
	}
	if !atB.Known() || !atB.Is(lives[0]) {
		t.Fatal("the life answering at b's address is not the life of b's call")
	}
	if atB.Is(lives[1]) || lives[0].Is(lives[1]) {
		t.Fatal("c's call is taken for b's process")
	}
	if _, err := transport.CallerLife(ctx); !errors.Is(err, transport.ErrNoCaller) {
		t.Fatalf("CallerLife of a context that is no call's: %v; want ErrNoCaller", err)
	}
}
