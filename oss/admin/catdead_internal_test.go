package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// damage is a damaged node's refusal, as oss.Node.Damage words it.
var damage = fmt.Errorf("%w: node \"a\" cannot use the catalog: its replica of \"oss:catalog\" was lost while the node ran; restart it empty: ossd run --rebuild-replica --join <a member>", oss.ErrCorrupt)

// A damaged node's refusal (its catalog replica lost) is a 503 that says
// so (X-Oss-Node-State: damaged), and the client's error matches
// oss.ErrCorrupt with the node's words, not ErrNoQuorum ("try again") nor
// a 500.
func TestDamagedNodeAnswersDamaged(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fail(w, damage) }))
	defer srv.Close()
	c, err := NewClient(strings.TrimPrefix(srv.URL, "http://"), &ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Do(context.Background(), http.MethodGet, "/v1/heaps/h/roots/r", nil, nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || !errors.Is(err, oss.ErrCorrupt) || errors.Is(err, oss.ErrNoQuorum) ||
		!strings.Contains(err.Error(), "--rebuild-replica") {
		t.Fatalf("a damaged node's refusal: %v; want a 503 matching oss.ErrCorrupt, with the node's words", err)
	}
}

// An authorization that a damaged node cannot decide (its grants are a lost
// replica's) is answered as the damage, not as a 403 that would send an
// operator to grant what is granted.
func TestDamagedNodeAuthorizeIsNoRefusal(t *testing.T) {
	a := &api{opts: Options{Authorize: func(string, pki.Role, string, string) error { return damage }}}
	err := a.authorize(httptest.NewRequest(http.MethodGet, "/v1/heaps/h/roots/r", nil), "h", "read")
	rec := httptest.NewRecorder()
	fail(rec, err)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get(stateHeader) != "damaged" {
		t.Fatalf("a damaged node's authorization: %d %q (%v); want 503, damaged", rec.Code, rec.Header().Get(stateHeader), err)
	}
}
