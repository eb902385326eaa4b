// Package admin is a node's HTTP admin interface, in JSON: cluster status,
// the heap directory, reads of objects and roots, and conditional
// transactions. ossd serves it; Client speaks it.
package admin

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss"
)

// api serves the admin interface of one node.
type api struct {
	node *oss.Node
}

// Handler returns the admin interface of a node. Serve it on loopback, or
// behind authentication: it reads and writes every heap.
func Handler(node *oss.Node) http.Handler {
	a := &api{node: node}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", a.status)
	mux.HandleFunc("GET /v1/heaps", a.heaps)
	mux.HandleFunc("PUT /v1/heaps/{heap}", a.createHeap)
	mux.HandleFunc("DELETE /v1/heaps/{heap}", a.dropHeap)
	mux.HandleFunc("GET /v1/heaps/{heap}/digest", a.digest)
	mux.HandleFunc("GET /v1/heaps/{heap}/objects/{id}", a.getObject)
	mux.HandleFunc("GET /v1/heaps/{heap}/roots/{root}", a.getRoot)
	mux.HandleFunc("PUT /v1/heaps/{heap}/roots/{root}", a.putRoot)
	mux.HandleFunc("POST /v1/heaps/{heap}/tx", a.tx)
	a.registerACL(mux) // GET, POST, DELETE /v1/acl: acl.go
	registerRevocations(mux, a)
	registerHot(mux, a) // GET /v1/heaps/{heap}/hot: hot.go
	return mux
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, oss.ErrConflict), errors.Is(err, oss.ErrHeapExists):
		code = http.StatusConflict
	case errors.Is(err, oss.ErrNotFound), errors.Is(err, oss.ErrNoHeap):
		code = http.StatusNotFound
	case errors.Is(err, oss.ErrCommitUnknown):
		// The record reached the log; it may yet commit.
		code = http.StatusGatewayTimeout
	case errors.Is(err, oss.ErrNoQuorum), errors.Is(err, context.DeadlineExceeded):
		// Not committed: safe to retry.
		code = http.StatusServiceUnavailable
	case errors.As(err, new(*badRequest)), errors.Is(err, oss.ErrInvalidHeapName), errors.Is(err, oss.ErrInvalidArgument),
		errors.Is(err, oss.ErrTooLarge), errors.As(err, new(*oss.EncodeError)):
		code = http.StatusBadRequest
	}
	reply(w, code, map[string]string{"error": err.Error()})
}

type badRequest struct{ err error }

func (e *badRequest) Error() string { return e.err.Error() }

// requestTimeout bounds every request.
const requestTimeout = 10 * time.Second

// heap opens the named heap; create says whether a missing one is made.
func (a *api) heap(ctx context.Context, name string, create bool) (*oss.Heap, error) {
	if create {
		return a.node.CreateHeapIfNotExists(ctx, name, nil)
	}
	return a.node.Heap(ctx, name)
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	reply(w, http.StatusOK, a.node.Status(ctx))
}

func (a *api) heaps(w http.ResponseWriter, r *http.Request) {
	hs := a.node.Heaps()
	if hs == nil {
		hs = []oss.HeapStatus{}
	}
	reply(w, http.StatusOK, hs)
}

// createHeap creates a heap, with ?replicas=N voters if given; one that
// exists is a conflict.
func (a *api) createHeap(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	var opts oss.HeapOptions
	if q := r.URL.Query().Get("replicas"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil {
			fail(w, &badRequest{fmt.Errorf("replicas %q: %w", q, err)})
			return
		}
		opts.Replicas = n
	}
	if _, err := a.node.CreateHeap(ctx, r.PathValue("heap"), &opts); err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, map[string]string{"created": r.PathValue("heap")})
}

func (a *api) dropHeap(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	if err := a.node.DropHeap(ctx, r.PathValue("heap")); err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, map[string]string{"dropped": r.PathValue("heap")})
}

func (a *api) digest(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	h, err := a.heap(ctx, r.PathValue("heap"), false)
	if err != nil {
		fail(w, err)
		return
	}
	index, d := h.Digest()
	reply(w, http.StatusOK, Digest{Index: index, Digest: hex.EncodeToString(d[:])})
}

// view runs fn on the heap, linearizably if the request asks for fresh.
func (a *api) view(w http.ResponseWriter, r *http.Request, fn func(tx *oss.Tx) error) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	h, err := a.heap(ctx, r.PathValue("heap"), false)
	if err != nil {
		fail(w, err)
		return
	}
	opts := &oss.ViewOptions{Fresh: r.URL.Query().Get("fresh") != ""}
	if err := h.View(ctx, fn, opts); err != nil {
		fail(w, err)
	}
}

func readObject(tx *oss.Tx, id uuid.UUID) (Object, error) {
	v, err := oss.Get[any](tx, id)
	if err != nil {
		return Object{}, err
	}
	version, err := tx.Version(id)
	if err != nil {
		return Object{}, err
	}
	return Object{ID: id, Version: version, Value: jsonable(v), Index: tx.Index()}, nil
}

func (a *api) getObject(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		fail(w, &badRequest{fmt.Errorf("object ID %q: %w", r.PathValue("id"), err)})
		return
	}
	a.view(w, r, func(tx *oss.Tx) error {
		o, err := readObject(tx, id)
		if err == nil {
			reply(w, http.StatusOK, o)
		}
		return err
	})
}

func (a *api) getRoot(w http.ResponseWriter, r *http.Request) {
	a.view(w, r, func(tx *oss.Tx) error {
		id, err := tx.Root(r.PathValue("root"))
		if err != nil {
			return err
		}
		o, err := readObject(tx, id)
		if err == nil {
			reply(w, http.StatusOK, o)
		}
		return err
	})
}

// putRoot sets the value of the object a root names, creating both if
// needed.
func (a *api) putRoot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	v, err := decodeValue(r)
	if err != nil {
		fail(w, &badRequest{err})
		return
	}
	h, err := a.heap(ctx, r.PathValue("heap"), true)
	if err != nil {
		fail(w, err)
		return
	}
	var id uuid.UUID
	var index uint64
	err = h.Update(ctx, func(tx *oss.Tx) error {
		var err error
		id, err = tx.Root(r.PathValue("root"))
		if errors.Is(err, oss.ErrNotFound) {
			id = uuid.New()
			err = tx.SetRoot(r.PathValue("root"), id)
		}
		if err != nil {
			return err
		}
		tx.OnCommit(func() { index = tx.Index() })
		return oss.Put(tx, id, v)
	})
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, Committed{ID: id, Index: index})
}

// tx commits a conditional transaction once; a conflict is 409.
func (a *api) tx(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	var req Txn
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, &badRequest{fmt.Errorf("transaction: %w", err)})
		return
	}
	values := make([]any, len(req.Writes))
	for i, wr := range req.Writes {
		v, err := decodeJSON(wr.Value)
		if err != nil {
			fail(w, &badRequest{fmt.Errorf("value of %v: %w", wr.ID, err)})
			return
		}
		values[i] = v
	}
	h, err := a.heap(ctx, r.PathValue("heap"), false)
	if err != nil {
		fail(w, err)
		return
	}
	tx, err := h.Begin(ctx, nil)
	if err != nil {
		fail(w, err)
		return
	}
	if err := applyTx(tx, &req, values); err != nil {
		tx.Rollback()
		fail(w, err)
		return
	}
	if err := tx.Commit(); err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, Committed{Index: tx.Index()})
}

func applyTx(tx *oss.Tx, req *Txn, values []any) error {
	for _, rd := range req.Reads {
		v, err := tx.Version(rd.ID)
		if err != nil {
			return err
		}
		if v != rd.Version {
			return &oss.ConflictError{ID: rd.ID}
		}
	}
	for i, wr := range req.Writes {
		if err := oss.Put(tx, wr.ID, values[i]); err != nil {
			return err
		}
	}
	for _, id := range req.Deletes {
		if err := tx.Delete(id); err != nil {
			return err
		}
	}
	for name, s := range req.Roots {
		if s == "" {
			if err := tx.DeleteRoot(name); err != nil {
				return err
			}
			continue
		}
		id, err := uuid.Parse(s)
		if err != nil {
			return &badRequest{fmt.Errorf("root %q: %w", name, err)}
		}
		if err := tx.SetRoot(name, id); err != nil {
			return err
		}
	}
	return nil
}

func decodeValue(r *http.Request) (any, error) {
	var raw json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 8<<20)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	return decodeJSON(raw)
}

// decodeJSON decodes a JSON value, keeping integers integers. A value
// nested deeper than the heap's decoder reads back is refused.
func decodeJSON(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if nesting(v) > codec.MaxNestedLevels {
		return nil, fmt.Errorf("value nested deeper than %d arrays and objects", codec.MaxNestedLevels)
	}
	return numbers(v), nil
}

// nesting is the depth of the arrays and objects in a decoded JSON value.
func nesting(v any) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			n = max(n, nesting(e))
		}
	case []any:
		for _, e := range x {
			n = max(n, nesting(e))
		}
	default:
		return 0
	}
	return n + 1
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}

// jsonable turns a generically decoded CBOR value into one encoding/json
// can write: maps with non-string keys get their keys printed.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
	case string:
		return strings.ToValidUTF8(x, "\uFFFD")
	}
	return v
}
