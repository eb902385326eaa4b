package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/objectsharing/oss/oss/pki"
)

// Backups and restores under way are capped per identity (429) and per
// node (503): a read permission used to pin as many View snapshots as it
// had backups trickling, and restores had no bound but the room for
// bodies. A slot given back is taken again.
func TestStreamCaps(t *testing.T) {
	a := &api{}
	take := func(kind streamKind, who string) (func(), int) {
		r := httptest.NewRequest(http.MethodGet, "/v1/heaps/h/backup", nil)
		r = r.WithContext(context.WithValue(r.Context(), identityKey{}, Identity{Name: who, Role: pki.RoleClient}))
		w := httptest.NewRecorder()
		release, ok := a.takeStream(w, r, kind)
		if ok {
			return release, http.StatusOK
		}
		return nil, w.Code
	}
	for _, kind := range []streamKind{streamBackup, streamRestore} {
		var held []func()
		for i := range streamPerNode[kind] {
			who := string(rune('a' + i/streamPerIdentity[kind]))
			release, code := take(kind, who)
			if code != http.StatusOK {
				t.Fatalf("stream %d of kind %d, of %s: %d; want it taken", i, kind, who, code)
			}
			held = append(held, release)
			if i%streamPerIdentity[kind] != streamPerIdentity[kind]-1 {
				continue
			}
			if _, code := take(kind, who); code != http.StatusTooManyRequests {
				t.Errorf("kind %d: one more of %s, at its cap: %d; want 429", kind, who, code)
			}
		}
		if _, code := take(kind, "z"); code != http.StatusServiceUnavailable {
			t.Errorf("kind %d: one more with the node at its cap: %d; want 503", kind, code)
		}
		held[0]()
		release, code := take(kind, "z")
		if code != http.StatusOK {
			t.Fatalf("kind %d: one more after one ended: %d; want it taken", kind, code)
		}
		release()
		for _, release := range held[1:] {
			release()
		}
		if len(a.streams.ident) != 0 || a.streams.node != [2]int{} {
			t.Errorf("after every stream ended: %v, %v; want nothing counted", a.streams.ident, a.streams.node)
		}
	}
}
