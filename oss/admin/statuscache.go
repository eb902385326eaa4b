package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/objectsharing/oss/oss"
)

// statusMaxAge is how old a gathered status may be and still be served:
// a status asks every member for its replicas, so requests that come
// together share one gathering instead of each sending one to every
// member (statusCache).
const statusMaxAge = 100 * time.Millisecond

// statusTimeout bounds one gathering of the status.
const statusTimeout = 2 * time.Second

// statusCache serves GET /v1/status from one gathering at a time: a
// request joins the gathering under way, or takes the last one's answer
// if that began at most statusMaxAge ago, and only otherwise gathers
// anew. A flood of status requests, from one identity or many, makes the
// node ask its members at most once per statusMaxAge plus one
// gathering's time, not once per request. A request that changes
// something through the interface (any but GET and HEAD) makes the
// gatherings begun before it stale (invalidate) before it is answered,
// so a status asked after it shows it: "heaps create" then asks for the
// status, and was shown one without the heap.
type statusCache struct {
	gather func(context.Context) oss.ClusterStatus // Node.Status; a seam for tests
	now    func() time.Time

	mu   sync.Mutex // protects following fields
	gen  uint64     // bumped by invalidate: gatherings of an older one are not shared
	last *statusFlight
	cur  *statusFlight // the gathering under way, nil if none
	// gathers counts the gatherings begun (for tests).
	gathers int
}

// statusFlight is one gathering of the status and, once done is closed,
// its answer, encoded.
type statusFlight struct {
	gen   uint64
	began time.Time
	done  chan struct{}
	body  []byte
	st    oss.ClusterStatus // what body encodes, for an answer filtered (api.status)
}

// get returns the gathering whose answer to serve: the one under way,
// the last if it is fresh enough, or one it gathers itself, done. It
// gives up, with nil, when ctx ends first; the gathering's body is nil
// if it panicked.
func (c *statusCache) get(ctx context.Context) *statusFlight {
	now := c.now()
	c.mu.Lock()
	f := c.cur
	if f != nil && f.gen != c.gen {
		f = nil // begun before a change: not to be shared
	}
	if l := c.last; f == nil && l != nil && l.gen == c.gen && now.Sub(l.began) <= statusMaxAge && !now.Before(l.began) {
		c.mu.Unlock()
		return l
	}
	if f == nil {
		f = &statusFlight{gen: c.gen, began: now, done: make(chan struct{})}
		c.cur = f
		c.gathers++
		c.mu.Unlock()
		c.run(f)
		return f
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f
	case <-ctx.Done():
		return nil
	}
}

// run gathers the status for f, in the goroutine of the request that
// began it, with a bound of its own: the requests that joined it wait
// for it even if that one's client goes away.
func (c *statusCache) run(f *statusFlight) {
	defer func() {
		// Even if the gathering panicked, the requests that joined it
		// are let go, and the next request gathers anew.
		c.mu.Lock()
		if c.cur == f {
			c.cur = nil
		}
		if f.body != nil && f.gen == c.gen {
			c.last = f
		}
		c.mu.Unlock()
		close(f.done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	st := c.gather(ctx)
	f.st = st
	f.body = encodeStatus(&st)
}

func encodeStatus(st *oss.ClusterStatus) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.Encode(st)
	return buf.Bytes()
}

// invalidate makes the gatherings begun so far stale: no request from
// now on is answered from them.
func (c *statusCache) invalidate() {
	c.mu.Lock()
	c.gen++
	c.mu.Unlock()
}

// invalidating is the ResponseWriter of a request that may change
// something: before its answer begins, the status gatherings begun
// until then are made stale, so that a status its client asks for next
// is gathered after the change.
type invalidating struct {
	http.ResponseWriter
	c    *statusCache
	done bool
}

func (w *invalidating) WriteHeader(code int) {
	if !w.done {
		w.done = true
		w.c.invalidate()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *invalidating) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *invalidating) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status answers GET /v1/status. An identity that may read every heap
// (operators, servers, a client granted read on "*") gets the status as
// gathered; any other (a client certificate) the heaps it may read
// alone, and of each member the heaps among those that it leads
// (docs/design.md, "What a status tells whom"). It was given every
// heap's group and applied index, whatever it was granted.
func (a *api) status(w http.ResponseWriter, r *http.Request) {
	f := a.statuses.get(r.Context())
	if f == nil || f.body == nil {
		// The client went away, or the gathering it joined failed.
		fail(w, refuse(http.StatusServiceUnavailable, "the status could not be gathered; try again"))
		return
	}
	body := f.body
	if may, all := a.mayRead(r); !all {
		st := readableStatus(f.st, may)
		body = encodeStatus(&st)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// mayRead returns whether the request's identity may read a heap, and
// all true if it may read every heap.
func (a *api) mayRead(r *http.Request) (may func(heap string) bool, all bool) {
	id := identityOf(r)
	may = func(heap string) bool { return a.opts.Authorize(id.Name, id.Role, heap, PermRead) == nil }
	return may, may("*")
}

// readableStatus is st with only the heaps may allows, in Heaps and in
// each member's Leads.
func readableStatus(st oss.ClusterStatus, may func(heap string) bool) oss.ClusterStatus {
	heaps := make([]oss.HeapStatus, 0, len(st.Heaps))
	for _, h := range st.Heaps {
		if may(h.Name) {
			heaps = append(heaps, h)
		}
	}
	st.Heaps = heaps
	members := make([]oss.Member, len(st.Members))
	for i, m := range st.Members {
		m.Leads = slices.DeleteFunc(slices.Clone(m.Leads), func(h string) bool { return !may(h) })
		members[i] = m
	}
	if st.Members != nil {
		st.Members = members
	}
	return st
}
