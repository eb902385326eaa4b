package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// Client speaks a node's admin interface.
type Client struct {
	base string
	hc   *http.Client
}

// NewClient returns a client of the admin interface at addr (host:port).
func NewClient(addr string) *Client {
	return &Client{base: "http://" + addr, hc: &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	}}
}

// Close releases the client's idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// StatusError is an error answer of the interface.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string { return e.Message }

// Is maps answers to the oss errors they stand for.
func (e *StatusError) Is(target error) bool {
	switch e.Code {
	case http.StatusConflict:
		return target == oss.ErrConflict
	case http.StatusNotFound:
		return target == oss.ErrNotFound
	case http.StatusServiceUnavailable:
		return target == oss.ErrNoQuorum
	case http.StatusGatewayTimeout:
		return target == oss.ErrCommitUnknown
	}
	return false
}

// Do sends a request and decodes a JSON answer into out (unless nil). An
// error status becomes a *StatusError with the node's message.
func (c *Client) Do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("no node answers at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("%s %s: %s", method, path, resp.Status)
		}
		return &StatusError{Code: resp.StatusCode, Message: e.Error}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func heapPath(heap string) string { return "/v1/heaps/" + url.PathEscape(heap) }

// Status returns the cluster's status as the node gathers it.
func (c *Client) Status(ctx context.Context) (oss.ClusterStatus, error) {
	var st oss.ClusterStatus
	err := c.Do(ctx, "GET", "/v1/status", nil, &st)
	return st, err
}

// Heaps lists the heap directory.
func (c *Client) Heaps(ctx context.Context) ([]oss.HeapStatus, error) {
	var hs []oss.HeapStatus
	err := c.Do(ctx, "GET", "/v1/heaps", nil, &hs)
	return hs, err
}

// Root reads the object a root names; fresh makes the read linearizable.
func (c *Client) Root(ctx context.Context, heap, root string, fresh bool) (Object, error) {
	var o Object
	err := c.Do(ctx, "GET", heapPath(heap)+"/roots/"+url.PathEscape(root)+freshQuery(fresh), nil, &o)
	return o, err
}

// Object reads an object; fresh makes the read linearizable.
func (c *Client) Object(ctx context.Context, heap string, id uuid.UUID, fresh bool) (Object, error) {
	var o Object
	err := c.Do(ctx, "GET", heapPath(heap)+"/objects/"+id.String()+freshQuery(fresh), nil, &o)
	return o, err
}

func freshQuery(fresh bool) string {
	if fresh {
		return "?fresh=1"
	}
	return ""
}

// PutRoot sets the value of the object a root names, creating the heap,
// the root and the object as needed.
func (c *Client) PutRoot(ctx context.Context, heap, root string, value any) (Committed, error) {
	var out Committed
	err := c.Do(ctx, "PUT", heapPath(heap)+"/roots/"+url.PathEscape(root), value, &out)
	return out, err
}

// Commit commits a conditional transaction once. An error matching
// oss.ErrConflict means a read version was out of date.
func (c *Client) Commit(ctx context.Context, heap string, t *Txn) (Committed, error) {
	var out Committed
	err := c.Do(ctx, "POST", heapPath(heap)+"/tx", t, &out)
	return out, err
}

// Digest returns the node's replica digest of a heap.
func (c *Client) Digest(ctx context.Context, heap string) (Digest, error) {
	var d Digest
	err := c.Do(ctx, "GET", heapPath(heap)+"/digest", nil, &d)
	return d, err
}

// CreateHeap creates a heap with the given number of voters (0: the
// node's default). A heap that exists already is an error matching
// oss.ErrHeapExists.
func (c *Client) CreateHeap(ctx context.Context, heap string, replicas int) error {
	path := heapPath(heap)
	if replicas != 0 {
		path += "?replicas=" + strconv.Itoa(replicas)
	}
	err := c.Do(ctx, "PUT", path, nil, nil)
	if se, ok := err.(*StatusError); ok && se.Code == http.StatusConflict {
		return &heapExistsError{se.Message}
	}
	return err
}

// heapExistsError is the conflict answer to a heap's creation.
type heapExistsError struct{ msg string }

func (e *heapExistsError) Error() string { return e.msg }

// Is reports whether target is oss.ErrHeapExists.
func (e *heapExistsError) Is(target error) bool { return target == oss.ErrHeapExists }

// DropHeap drops a heap.
func (c *Client) DropHeap(ctx context.Context, heap string) error {
	return c.Do(ctx, "DELETE", heapPath(heap), nil, nil)
}
