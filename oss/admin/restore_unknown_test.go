package admin_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A restore whose node read the backup and gave no answer, or answered
// 200 and had its answer cut, may have restored the heap (the second
// certainly did): its outcome is unknown to the client. Every other
// write of the client says so with an error matching oss.ErrCommitUnknown
// (sendTo, Do); Client.Restore said it in words only, and its error
// matched the transport's (io.ErrUnexpectedEOF, a context's error),
// which a caller reads as a failure that did nothing. The restore is not
// sent to the next node either way.
func TestRestoreWithoutAnAnswerIsAnUnknownOutcome(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the servers close
	ctx := context.Background()
	var next atomic.Int32
	nextNode := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.Add(1)
		http.Error(w, `{"error":"not to be reached"}`, http.StatusInternalServerError)
	}))
	t.Cleanup(nextNode.Close)
	backup := bytes.Repeat([]byte("b"), 64<<10)

	cases := []struct {
		name    string
		handler http.HandlerFunc
		ctx     func() (context.Context, context.CancelFunc)
	}{
		{"no answer", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			panic(http.ErrAbortHandler) // the connection is cut: no answer
		}, nil},
		{"200 cut", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Length", "200")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{"Backup":`))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, nil},
		{"context ended while the node worked", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done() // the client gave up
		}, func() (context.Context, context.CancelFunc) { return context.WithCancel(ctx) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			node := httptest.NewServer(tc.handler)
			defer node.Close()
			c, err := admin.NewClient(strings.TrimPrefix(node.URL, "http://")+","+strings.TrimPrefix(nextNode.URL, "http://"), &admin.ClientOptions{Insecure: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			rctx := ctx
			if tc.ctx != nil {
				var cancel context.CancelFunc
				rctx, cancel = tc.ctx()
				defer cancel()
				body := &cancelAtEnd{r: bytes.NewReader(backup), cancel: cancel}
				_, err = c.Restore(rctx, "restored", body, 0)
			} else {
				_, err = c.Restore(rctx, "restored", bytes.NewReader(backup), 0)
			}
			if !errors.Is(err, oss.ErrCommitUnknown) {
				t.Errorf("restore the node may have carried out: %v; want an error matching oss.ErrCommitUnknown", err)
			}
			if admin.TookNothing(err) {
				t.Errorf("restore the node may have carried out: TookNothing(%v)", err)
			}
		})
	}
	if n := next.Load(); n != 0 {
		t.Errorf("a restore the first node may have carried out was sent to the next %d times", n)
	}
}

// cancelAtEnd ends a request's context once its body has been read whole.
type cancelAtEnd struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelAtEnd) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.cancel()
	}
	return n, err
}
