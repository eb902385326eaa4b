package admin_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/osstest"
)

// TestUISampleWithAMemberDown: on QUIC, a member stopped a moment ago
// does not answer the sample's status call, which waits for it until the
// sample's deadline. The sample still has this node's figures of its
// heaps, whose groups lost nothing: it opened each heap to read them,
// with that deadline already spent, and every heap had none.
func TestUISampleWithAMemberDown(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 3, &osstest.Options{QUIC: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	healthy := heapsWithLeader(t, ctx, c, 2)
	c.Kill("n3")

	srv := serve(t, c.Node("n1"), &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", srv.URL()+"/ui/events", nil)
	snap := firstSnapshot(t, &http.Client{Transport: tr}, req)
	heaps := map[string]admin.UIHeap{}
	for _, h := range snap.Heaps {
		heaps[h.Name] = h
	}
	for i, name := range healthy {
		if h := heaps[name]; h.Leader != "n1" || h.LocalCommits != uint64(i+1) {
			t.Errorf("heap %s: leader %q, %d local commits; want n1, %d", name, h.Leader, h.LocalCommits, i+1)
		}
	}
}
