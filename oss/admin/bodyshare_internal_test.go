package admin

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	ipki "github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// One certificate's slow writes take at most half the room for bodies,
// and the other identities' writes are served beside them. A client
// certificate granted write on one heap held all of it with four writes
// whose bodies it sent slowly (each until the read timeout, 30 s, then
// again): every other write, an operator's too, waited bodyWait and was
// refused 503, for as long as it kept that up.
func TestOneIdentitysSlowBodiesLeaveRoomForOthers(t *testing.T) {
	defer goleak.VerifyNone(t)
	ca, err := ipki.NewCA("test CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue("n1", ipki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	n, err := oss.Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	h, err := NewHandler(n, &Options{Addr: "127.0.0.1:7480", CAPEM: ca.CertPEM, CertPEM: cert, KeyPEM: key, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	a := h.(*api)
	// Refused at once, not after the 5 s: the wait is not what is tested.
	a.bodyWait = 10 * time.Millisecond
	bob := Identity{Name: "bob", Role: pki.RoleClient}
	hold := make(chan struct{})
	entered := make(chan struct{}, bodySlots)
	a.handle("PUT /slow/{heap}", "", a.opts.MaxBodyBytes, func(w http.ResponseWriter, r *http.Request) {
		if identityOf(r) == bob {
			entered <- struct{}{} // its body is being read, slowly
			<-hold
		}
		w.WriteHeader(http.StatusOK)
	})
	put := func(id Identity) *httptest.ResponseRecorder {
		// A body of undeclared length weighs the whole limit.
		r := httptest.NewRequest("PUT", "/slow/h", io.NopCloser(strings.NewReader("1")))
		r.ContentLength = -1
		r = r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
		w := httptest.NewRecorder()
		a.mux.ServeHTTP(w, r)
		return w
	}
	answered := make(chan int, bodySlots)
	for range bodySlots {
		go func() {
			w := put(bob)
			answered <- w.Code
		}()
	}
	defer close(hold)
	held, refused := 0, 0
	for held+refused < bodySlots {
		select {
		case <-entered:
			held++
		case code := <-answered:
			if code != http.StatusTooManyRequests {
				t.Fatalf("a write of bob's beyond its share answered %d, want 429", code)
			}
			refused++
		}
	}
	if held > bodySlots/2 {
		t.Errorf("bob holds %d writes' bodies of %d at once, want at most half", held, bodySlots)
	}
	w := put(Identity{Name: "admin", Role: pki.RoleAdmin})
	if w.Code != http.StatusOK {
		t.Fatalf("an operator's write beside bob's %d slow ones answered %d: %s", held, w.Code, w.Body)
	}
}
