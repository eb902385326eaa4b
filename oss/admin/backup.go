package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/objectsharing/oss/oss"
)

// streamBody is the maxBody of an endpoint whose body is a stream
// (a restore's backup): no cap on the whole, which MaxBodyBytes would
// be, as the node holds about 3 commits' worth of it at a time
// (oss.Node.RestoreHeap); it takes no room for bodies, but a restore's
// slot (streamcap.go), of which a node has few.
const streamBody = -1

// backupType is the Content-Type of a backup, answered and sent.
const backupType = "application/octet-stream"

// registerBackup adds the streaming endpoints: GET of a heap's backup
// (read on the heap) and POST of a backup to restore as a new heap
// (admin on it).
func (a *api) registerBackup() {
	a.handle("GET /v1/heaps/{heap}/backup", PermRead, 0, a.backup)
	a.handle("POST /v1/heaps/{heap}/restore", PermAdmin, streamBody, a.restore)
}

// isRestore reports whether r is a restore's POST, whose body is a
// backup rather than JSON (checkRequest). Such a type is not one a web
// page may send without a preflight, which the interface never answers.
func isRestore(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/heaps/") && strings.HasSuffix(r.URL.Path, "/restore")
}

// streamIdle is how long a stream may go without a byte moving: each
// read or write moves the connection's deadlines (the server's
// ReadTimeout and WriteTimeout bound a whole request) that far on.
func (a *api) streamIdle() time.Duration { return max(a.opts.ReadTimeout, a.opts.WriteTimeout) }

// streamConn moves a request's deadlines on as its stream moves.
type streamConn struct {
	rc    *http.ResponseController
	idle  time.Duration
	moved time.Time
}

func (s *streamConn) move() {
	if now := time.Now(); now.Sub(s.moved) > time.Second {
		s.moved = now
		s.rc.SetReadDeadline(now.Add(s.idle))
		s.rc.SetWriteDeadline(now.Add(s.idle))
	}
}

// backupWriter is the answer a backup streams into; started says whether
// anything was written (after which no error can be answered).
type backupWriter struct {
	w       http.ResponseWriter
	conn    *streamConn
	started bool
	begun   func()
}

func (b *backupWriter) Write(p []byte) (int, error) {
	if !b.started {
		b.started = true
		b.begun()
		b.w.Header().Set("Content-Type", backupType)
	}
	b.conn.move()
	return b.w.Write(p)
}

// backup streams the heap's backup (oss.Heap.Backup), of a Fresh View
// with ?fresh=1. Until its first byte is written (opening the heap, a
// fresh read) it is bounded as any request; then it goes on as long as
// the client takes bytes within streamIdle. An error before the first
// byte is answered as any; after it, the connection is cut, and the
// client holds a backup without its end record, which every reader of
// one refuses.
func (a *api) backup(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	bound := time.AfterFunc(requestTimeout, cancel)
	defer bound.Stop()
	h, err := a.heap(ctx, r.PathValue("heap"), false)
	if err != nil {
		fail(w, notBegunIf(ctx, r, err))
		return
	}
	if r.Method == http.MethodHead {
		// The GET pattern takes HEAD too: the heap is there to back up,
		// and no backup is taken for a body nobody reads.
		w.Header().Set("Content-Type", backupType)
		return
	}
	release, ok := a.takeStream(w, r, streamBackup)
	if !ok {
		return
	}
	defer release()
	bw := &backupWriter{w: w, conn: &streamConn{rc: http.NewResponseController(w), idle: a.streamIdle()}, begun: func() { bound.Stop() }}
	info, err := h.Backup(ctx, bw, &oss.BackupOptions{Fresh: r.URL.Query().Get("fresh") != ""})
	if err == nil {
		a.opts.Logger.Info("admin: backup served", "heap", h.Name(), "index", info.Index, "objects", info.Objects, "roots", info.Roots, "bytes", info.Bytes, "user", identityOf(r).Name)
		return
	}
	if !bw.started {
		fail(w, notBegunIf(ctx, r, err))
		return
	}
	a.opts.Logger.Warn("admin: backup cut short", "heap", h.Name(), "err", err)
	panic(http.ErrAbortHandler) // the client reads a cut answer, not an end
}

// notBegun is the error of a backup that had not begun when its bound
// (requestTimeout) ended its context: an error of time, answered as any
// request's that ran out of it (503, a heap whose voters are down: no
// quorum), where the context's cancellation read as the node closing
// ("is closing", the client going on to the next node as from one).
type notBegun struct{ err error }

func (e *notBegun) Error() string {
	return fmt.Sprintf("%v (the backup had not begun after %v)", e.err, requestTimeout)
}

func (e *notBegun) Is(target error) bool {
	return target == context.DeadlineExceeded || target != context.Canceled && errors.Is(e.err, target)
}

// notBegunIf is err as a notBegun if the backup's bound ended ctx, the
// request's own context (the server's, the client's) still going.
func notBegunIf(ctx context.Context, r *http.Request, err error) error {
	if ctx.Err() != nil && r.Context().Err() == nil {
		return &notBegun{err}
	}
	return err
}

// restoreFailed is a restore's error as answered: without the state that
// says the node did nothing (stateHeader), which fail gives a node
// closing, damaged or refused by its disk. A restore may have created
// its heap before it failed so, and may have left it (its drop failed
// too, the message says); a client that took the answer for a node that
// did nothing sent the backup on to the next node, which said the heap
// exists, and the first node's message was lost. The status stays the
// cause's.
func restoreFailed(err error) error {
	switch {
	case errors.Is(err, oss.ErrCommitUnknown):
		return err // a 504, which carries no state
	case errors.Is(err, oss.ErrDisk):
		return &httpError{code: http.StatusInsufficientStorage, err: err}
	case errors.Is(err, oss.ErrCorrupt), errors.Is(err, oss.ErrClosed), errors.Is(err, context.Canceled):
		return &httpError{code: http.StatusServiceUnavailable, err: err}
	}
	return err
}

// bodyStream is a restore's body, moving the deadlines on as it is read.
type bodyStream struct {
	r    io.Reader
	conn *streamConn
}

func (b *bodyStream) Read(p []byte) (int, error) {
	b.conn.move()
	return b.r.Read(p)
}

// restore creates the heap from the backup the body streams
// (oss.Node.RestoreHeap), with ?replicas=N voters if given, and answers
// what it restored (oss.RestoreInfo). A heap that exists is a 409, a
// backup that fails its checks a 400, nothing kept of either. A restore
// whose drop of its heap failed too (oss.RestoreLeftError) answers its
// cause's status, without a state (fail), and a message that names the
// heap's group and the drop of that group alone.
func (a *api) restore(w http.ResponseWriter, r *http.Request) {
	n, err := replicasParam(r)
	if err != nil {
		fail(w, err)
		return
	}
	opts := oss.RestoreOptions{Replicas: n}
	release, ok := a.takeStream(w, r, streamRestore)
	if !ok {
		return
	}
	defer release()
	body := &bodyStream{r: r.Body, conn: &streamConn{rc: http.NewResponseController(w), idle: a.streamIdle()}}
	info, err := a.node.RestoreHeap(r.Context(), r.PathValue("heap"), body, &opts)
	if err != nil {
		fail(w, restoreFailed(err))
		return
	}
	a.opts.Logger.Info("admin: heap restored", "heap", r.PathValue("heap"), "from", info.Backup.Heap, "index", info.Backup.Index, "objects", info.Backup.Objects, "roots", info.Backup.Roots, "commits", info.Commits, "user", identityOf(r).Name)
	reply(w, http.StatusOK, info)
}
