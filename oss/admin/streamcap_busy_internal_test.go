package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/objectsharing/oss/oss/pki"
)

// A node at its cap of streams answers 503 with the busy state: it read
// and did nothing of the request, as its message says ("retry later, or
// on another node"), so a client sends a restore it can send again, or a
// backup, on to the next node of its list. Without the state the client
// stopped at the first node whose restores were all taken.
func TestStreamCapOfTheNodeTookNothing(t *testing.T) {
	a := &api{}
	for _, kind := range []streamKind{streamBackup, streamRestore} {
		var held []func()
		var w *httptest.ResponseRecorder
		for i := range streamPerNode[kind] + 1 {
			r := httptest.NewRequest(http.MethodPost, "/v1/heaps/h/restore", nil)
			who := Identity{Name: string(rune('a' + i)), Role: pki.RoleClient}
			r = r.WithContext(context.WithValue(r.Context(), identityKey{}, who))
			w = httptest.NewRecorder()
			if release, ok := a.takeStream(w, r, kind); ok {
				held = append(held, release)
			}
		}
		if len(held) != streamPerNode[kind] || w.Code != http.StatusServiceUnavailable {
			t.Fatalf("kind %d: %d taken, the next answered %d; want %d taken and 503", kind, len(held), w.Code, streamPerNode[kind])
		}
		resp := w.Result()
		se := statusError(resp, w.Body.Bytes(), nil, http.MethodPost, "/v1/heaps/h/restore", "https://n1")
		if !TookNothing(se) {
			t.Errorf("kind %d: the node's cap answered %q (state %q): the client takes it for a node that may have done something; want it sent on", kind, se.Message, resp.Header.Get(stateHeader))
		}
		for _, release := range held {
			release()
		}
	}
}
