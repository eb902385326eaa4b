package admin_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/pki"
)

// bkFill writes objects of some KiB each to heap name, and roots.
func bkFill(t *testing.T, n *oss.Node, name string, objects int) {
	t.Helper()
	h, err := n.CreateHeap(context.Background(), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < objects; i += 50 {
		err := h.Update(context.Background(), func(tx *oss.Tx) error {
			for j := i; j < min(i+50, objects); j++ {
				id := uuid.New()
				if err := oss.Put(tx, id, map[string]any{"n": j, "pad": strings.Repeat("p", 2000)}); err != nil {
					return err
				}
				if j%10 == 0 {
					if err := tx.SetRoot("r"+strings.Repeat("0", j%7)+string(rune('a'+j%26))+uuid.NewString(), id); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// bkContents reads every object and root of a heap, decoded.
func bkContents(t *testing.T, n *oss.Node, name string) (map[uuid.UUID]any, map[string]uuid.UUID) {
	t.Helper()
	h, err := n.Heap(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	objects, roots := map[uuid.UUID]any{}, map[string]uuid.UUID{}
	var buf bytes.Buffer
	if _, err := h.Backup(context.Background(), &buf, nil); err != nil {
		t.Fatal(err)
	}
	err = h.View(context.Background(), func(tx *oss.Tx) error {
		var ids []uuid.UUID
		if err := tx.Scan(func(id uuid.UUID) bool { ids = append(ids, id); return true }); err != nil {
			return err
		}
		for _, id := range ids {
			v, err := oss.Get[any](tx, id)
			if err != nil {
				return err
			}
			objects[id] = v
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The roots: from the backup, which lists them.
	for name, id := range bkRoots(t, buf.Bytes()) {
		roots[name] = id
	}
	return objects, roots
}

// bkRoots lists a backup's roots by its layout (oss/backup.go).
func bkRoots(t *testing.T, b []byte) map[string]uuid.UUID {
	roots := map[string]uuid.UUID{}
	for off := 12; off < len(b); {
		n := int(b[off+1])<<24 | int(b[off+2])<<16 | int(b[off+3])<<8 | int(b[off+4])
		if b[off] == 'R' {
			roots[string(b[off+5+16:off+5+n])] = uuid.UUID(b[off+5 : off+5+16])
		}
		off += 9 + n
	}
	return roots
}

// A heap backed up through the admin interface and restored through it
// under another name, in a body many times --http-max-body, reads back
// the same; a restore onto a heap that exists is a 409 and one of a
// damaged backup a 400 naming the offset, neither keeping anything.
func TestAdminBackupRestore(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the cleanups that close the node and server
	ctx := context.Background()
	n := startNode(t)
	p := newPKI(t)
	o := p.serverOptions(t)
	o.MaxBodyBytes = 64 << 10
	srv := serve(t, n, o)
	adm := p.client(t, srv, "admin")
	bkFill(t, n, "src", 300)
	var buf bytes.Buffer
	info, err := adm.Backup(ctx, "src", &buf, true)
	if err != nil || info.Objects != 300 || info.Roots != 30 || int64(buf.Len()) != info.Bytes || buf.Len() < 8*64<<10 {
		t.Fatalf("Backup: %+v (%d bytes), %v", info, buf.Len(), err)
	}
	ri, err := adm.Restore(ctx, "dst", bytes.NewReader(buf.Bytes()), 0)
	if err != nil || ri.Backup != info || ri.Commits < 2 {
		t.Fatalf("Restore: %+v, %v; want the backup's %+v", ri, err, info)
	}
	wantObjects, wantRoots := bkContents(t, n, "src")
	gotObjects, gotRoots := bkContents(t, n, "dst")
	if !reflect.DeepEqual(gotObjects, wantObjects) || !reflect.DeepEqual(gotRoots, wantRoots) {
		t.Errorf("restored heap: %d objects, %d roots; want %d, %d, the same", len(gotObjects), len(gotRoots), len(wantObjects), len(wantRoots))
	}
	before := stateOf(t, n, "dst")
	if _, err := adm.Restore(ctx, "dst", bytes.NewReader(buf.Bytes()), 0); !errors.Is(err, oss.ErrHeapExists) {
		t.Errorf("Restore onto an existing heap: %v; want ErrHeapExists", err)
	}
	if after := stateOf(t, n, "dst"); after != before {
		t.Errorf("a refused restore changed the heap: %+v, was %+v", after, before)
	}
	spoilt := bytes.Clone(buf.Bytes())
	spoilt[len(spoilt)/2] ^= 1
	_, err = adm.Restore(ctx, "dst2", bytes.NewReader(spoilt), 0)
	var se *admin.StatusError
	if !errors.Is(err, oss.ErrBadBackup) || !errors.As(err, &se) || se.Code != http.StatusBadRequest || !strings.Contains(err.Error(), "offset") || !strings.Contains(err.Error(), "nothing was kept") {
		t.Errorf("Restore of a damaged backup: %v; want a 400 naming the offset, nothing kept", err)
	}
	bkAwaitNoHeap(t, n, "dst2")
}

func bkAwaitNoHeap(t *testing.T, n *oss.Node, name string) {
	t.Helper()
	await.UntilWithin(t, 20*time.Second, "heap "+name+" gone", func() bool {
		_, err := n.Heap(context.Background(), name)
		return errors.Is(err, oss.ErrNoHeap)
	})
}

// readCount counts the reads of a body.
type readCount struct {
	r     io.Reader
	reads int
}

func (c *readCount) Read(b []byte) (int, error) { c.reads++; return c.r.Read(b) }

// An unauthenticated caller of either endpoint is a 401, one without the
// permission (read for a backup, admin for a restore) a 403, and a
// restore's body is not read for either.
func TestAdminBackupRestoreRefused(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the cleanups that close the node and server
	ctx := context.Background()
	n := startNode(t)
	bkFill(t, n, "src", 10)
	var buf bytes.Buffer
	if _, err := n.Heap(ctx, "src"); err != nil {
		t.Fatal(err)
	}
	h, _ := n.Heap(ctx, "src")
	if _, err := h.Backup(ctx, &buf, nil); err != nil {
		t.Fatal(err)
	}
	p := newPKI(t)
	plain, err := admin.NewHandler(n, p.serverOptions(t)) // served without TLS: nobody is authenticated
	if err != nil {
		t.Fatal(err)
	}
	readOnly, err := admin.NewHandler(n, &admin.Options{Insecure: true, Addr: "127.0.0.1:0", Authorize: func(name string, role pki.Role, heap, perm string) error {
		if perm != admin.PermRead {
			return errors.New("read only")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	noRead, err := admin.NewHandler(n, &admin.Options{Insecure: true, Addr: "127.0.0.1:0", Authorize: func(string, pki.Role, string, string) error { return errors.New("nothing") }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		hd      http.Handler
		backup  int
		restore int
	}{{"unauthenticated", plain, http.StatusUnauthorized, http.StatusUnauthorized}, {"read only", readOnly, http.StatusOK, http.StatusForbidden}, {"no permission", noRead, http.StatusForbidden, http.StatusForbidden}} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "http://127.0.0.1/v1/heaps/src/backup", nil)
		tc.hd.ServeHTTP(rec, req)
		if rec.Code != tc.backup {
			t.Errorf("%s: backup answered %d %s; want %d", tc.name, rec.Code, rec.Body, tc.backup)
		}
		body := &readCount{r: bytes.NewReader(buf.Bytes())}
		rec = httptest.NewRecorder()
		req = httptest.NewRequest("POST", "http://127.0.0.1/v1/heaps/new/restore", body)
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set(admin.RequestHeader, "1")
		tc.hd.ServeHTTP(rec, req)
		if rec.Code != tc.restore || body.reads != 0 {
			t.Errorf("%s: restore answered %d %s, its body read %d times; want %d, unread", tc.name, rec.Code, rec.Body, body.reads, tc.restore)
		}
	}
	if _, err := n.Heap(ctx, "new"); !errors.Is(err, oss.ErrNoHeap) {
		t.Errorf("a refused restore left heap new: %v", err)
	}
}

// cancelAfter cancels a context once n bytes have passed; as a reader it
// gives no more after that, as a client that gave up sends nothing more.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(b []byte) (int, error) {
	if c.n <= 0 {
		return 0, context.Canceled
	}
	k, err := c.r.Read(b[:min(len(b), c.n)])
	if c.n -= k; c.n <= 0 {
		c.cancel()
	}
	return k, err
}

func (c *cancelAfter) Write(b []byte) (int, error) {
	if c.n -= len(b); c.n <= 0 {
		c.cancel()
	}
	return len(b), nil
}

// A client that gives up midway through a backup gets an error, and one
// that gives up midway through a restore leaves no heap.
func TestAdminBackupRestoreCancelled(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the cleanups that close the node and server
	n := startNode(t)
	p := newPKI(t)
	srv := serve(t, n, p.serverOptions(t))
	adm := p.client(t, srv, "admin")
	bkFill(t, n, "src", 2000)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := adm.Backup(ctx, "src", &cancelAfter{n: 100 << 10, cancel: cancel}, false); err == nil {
		t.Error("a backup whose client gave up midway succeeded")
	}
	var buf bytes.Buffer
	if _, err := adm.Backup(context.Background(), "src", &buf, false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	if _, err := adm.Restore(ctx, "dst", &cancelAfter{r: bytes.NewReader(buf.Bytes()), n: buf.Len() / 2, cancel: cancel}, 0); err == nil {
		t.Error("a restore whose client gave up midway succeeded")
	}
	bkAwaitNoHeap(t, n, "dst")
}
