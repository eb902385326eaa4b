package admin

import (
	"context"
	"errors"
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

// slowBodies is a TLS node's handler whose endpoint PUT /slow/{heap}
// holds every write of the identities hold names, as a body sent slowly
// holds its room, until the test ends.
func slowBodies(t *testing.T, hold ...Identity) (put func(Identity) *httptest.ResponseRecorder, entered chan Identity) {
	t.Helper()
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
	t.Cleanup(func() { n.Close(context.Background()) })
	h, err := NewHandler(n, &Options{Addr: "127.0.0.1:7480", CAPEM: ca.CertPEM, CertPEM: cert, KeyPEM: key, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	a := h.(*api)
	a.bodyWait = 10 * time.Millisecond // a refusal for room is not what is tested
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	entered = make(chan Identity, 2*bodySlots)
	a.handle("PUT /slow/{heap}", "", a.opts.MaxBodyBytes, func(w http.ResponseWriter, r *http.Request) {
		id := identityOf(r)
		for _, held := range hold {
			if id == held {
				entered <- id
				<-release
			}
		}
		w.WriteHeader(http.StatusOK)
	})
	put = func(id Identity) *httptest.ResponseRecorder {
		// A body of undeclared length weighs the whole limit.
		r := httptest.NewRequest("PUT", "/slow/h", io.NopCloser(strings.NewReader("1")))
		r.ContentLength = -1
		r = r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
		w := httptest.NewRecorder()
		a.mux.ServeHTTP(w, r)
		return w
	}
	return put, entered
}

// An operator's and a server's concurrent large writes are not held to
// one identity's share of the room for bodies (as the insecure
// listener's one identity is not): the share keeps a client from
// crowding the others out, and an operator's third concurrent write was
// refused 429 "rate-limited", which the client reported as over its
// request rate.
func TestOperatorsLargeWritesHaveNoBodyShare(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the held writes end
	for _, id := range []Identity{{Name: "admin", Role: pki.RoleAdmin}, {Name: "n2", Role: pki.RoleServer}} {
		put, entered := slowBodies(t, id)
		answered := make(chan *httptest.ResponseRecorder, bodySlots)
		for range bodySlots/2 + 1 {
			go func() { answered <- put(id) }()
		}
		for held := 0; held < bodySlots/2+1; {
			select {
			case <-entered:
				held++
			case w := <-answered:
				t.Fatalf("a %s's write beside %d of its own answered %d: %s", id.Role, held, w.Code, w.Body)
			}
		}
	}
}

// A client certificate's write past its share of the room for bodies is
// refused 429 with the state body-share, saying that its own writes
// under way take the share, and the Go client reports it as ErrBodyShare,
// not as ErrRateLimited: it was "rate-limited", which the client
// reported as "over the identity's request rate limit".
func TestClientsBodyShareRefusalSaysWhatItIs(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the held writes end
	bob := Identity{Name: "bob", Role: pki.RoleClient}
	put, entered := slowBodies(t, bob)
	answered := make(chan *httptest.ResponseRecorder, bodySlots)
	for range bodySlots {
		go func() { answered <- put(bob) }()
	}
	var refusal *httptest.ResponseRecorder
	for held := 0; refusal == nil; {
		select {
		case <-entered:
			held++
		case refusal = <-answered:
		}
	}
	if refusal.Code != http.StatusTooManyRequests || refusal.Header().Get(stateHeader) != bodyShareState ||
		!strings.Contains(refusal.Body.String(), "its own writes") {
		t.Fatalf("bob's write past its share: %d, state %q: %s; want 429, state %q, naming its own writes",
			refusal.Code, refusal.Header().Get(stateHeader), refusal.Body, bodyShareState)
	}
	// The Go client, answered that refusal.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range refusal.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(refusal.Code)
		w.Write(refusal.Body.Bytes())
	}))
	defer srv.Close()
	c := insecureClient(t, strings.TrimPrefix(srv.URL, "http://"))
	err := c.Do(context.Background(), "PUT", "/v1/heaps/h/roots/r", map[string]string{"id": "x"}, nil)
	if !errors.Is(err, ErrBodyShare) || errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "its own writes") {
		t.Fatalf("the client, refused for bob's share of the room for bodies: %v (ErrBodyShare %t, ErrRateLimited %t); want ErrBodyShare alone, naming its own writes",
			err, errors.Is(err, ErrBodyShare), errors.Is(err, ErrRateLimited))
	}
}
