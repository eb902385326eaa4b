package admin_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss/admin"
)

// DELETE /v1/heaps/{heap}?group= with the group empty, not a number, or
// given twice is a 400 that drops nothing: given, the group guards the
// drop. Empty, it was read as no group at all, and the heap was dropped
// by its name, whatever its group.
func TestDropHeapOfEmptyGroupDropsNothing(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	n := startNode(t)
	srv := serve(t, n, &admin.Options{Insecure: true, Addr: "127.0.0.1:0"})
	if _, err := n.CreateHeap(ctx, "g", nil); err != nil {
		t.Fatal(err)
	}
	group := n.Heaps()[0].Group
	hc := &http.Client{}
	t.Cleanup(hc.CloseIdleConnections)
	for _, q := range []string{"group=", "group=x", fmt.Sprintf("group=%d&group=%d", group, group+1), fmt.Sprintf("group=%d&group=", group)} {
		req, err := http.NewRequestWithContext(ctx, "DELETE", "http://"+srv.Addr()+"/v1/heaps/g?"+q, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Oss-Admin", "1")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("DELETE ?%s: %s %s; want 400", q, resp.Status, body)
		}
		if hs := n.Heaps(); len(hs) != 1 || hs[0].Group != group {
			t.Fatalf("heaps after DELETE ?%s: %+v; want g of group %d kept", q, hs, group)
		}
	}
}
