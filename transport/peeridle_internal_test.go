package transport

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
)

// Each name an endpoint ever sent to kept its peer for the endpoint's
// life: two sendLoop goroutines and two queues of QueueLen slots, and
// byAddr an entry with the ended connection for each address dialled. In
// an ossd soak, library clients that joined and closed under new names
// grew the heap leader's goroutines without bound. Now a peer unused for
// peerIdle is forgotten, its sendLoops end, and the next send makes it
// again.
func TestDepartedPeersAreForgotten(t *testing.T) {
	const departed = 6
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue("a", pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewQUIC(&QUICConfig{Name: "a", CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM, Handler: &eventRecorder{},
		peerIdle: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	for i := range departed {
		name := fmt.Sprint("b", i)
		rec := &eventRecorder{}
		b := fuzzEndpoint(t, ca, name, rec, 0)
		a.SetPeer(name, b.Addr().String())
		if err := a.Send(ctx, name, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		if err := a.SendControl(ctx, name, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		var got int
		await.Until(t, name+" to get both messages", func() bool {
			got += len(rec.take())
			return got == 2
		})
		b.Close()
	}
	await.Until(t, "the departed peers to be forgotten and their sendLoops to end", func() bool {
		a.mu.Lock()
		peers, addrs := len(a.peers), len(a.byAddr)
		a.mu.Unlock()
		return peers == 0 && addrs == 0 && a.sendLoops.Load() == 0
	})

	// A peer forgotten is made again by the next send.
	rec := &eventRecorder{}
	b := fuzzEndpoint(t, ca, "b0", rec, 0)
	defer b.Close()
	a.SetPeer("b0", b.Addr().String())
	if err := a.Send(ctx, "b0", []byte("again")); err != nil {
		t.Fatal(err)
	}
	await.Until(t, "b0 to get a message after its peer was forgotten", func() bool { return len(rec.take()) == 1 })
}
