// Package admin is a node's HTTP admin interface, in JSON: cluster status,
// the heap directory, reads of objects and roots, conditional
// transactions, and backups and restores of heaps. ossd serves it (NewServer); Client speaks it.
//
// # Security
//
// The interface reads and writes every heap, so by default it speaks
// only HTTPS with client certificates of the cluster's CA (TLS 1.3, like
// etcd's client URLs): the identity of a request is its certificate's
// name and role, and Options.Authorize decides what each may do on each
// heap. Options.Insecure serves plain HTTP without certificates, on
// loopback only. Either way every request is checked against what a web
// page in a browser could send (Host, Origin, Sec-Fetch-Site,
// Content-Type), bodies and timeouts are bounded, and a value is written
// only if it reads back as sent (ParseValue). docs/design.md, "Admin
// interface security", has the reasons.
package admin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	ipki "github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
	"golang.org/x/sync/semaphore"
)

// Options configures the admin interface of a node: NewServer serves it
// on a listener of its own, NewHandler returns its handler. The zero value
// (or nil) is the secure default, except that TLS needs the certificates.
type Options struct {
	// Addr is the TCP address to listen on. If empty, 127.0.0.1:7480. With
	// TLS any address will do (NewServer logs a warning for one that is
	// not loopback); Insecure needs a loopback one.
	Addr string
	// Listener, if not nil, is the listener NewServer serves on instead of
	// listening on Addr (which it then takes from the listener): a daemon
	// binds its address before it joins a cluster, so that an address in
	// use fails it first. NewServer owns it: Close closes it, and so does
	// a failed NewServer.
	Listener net.Listener
	// CAPEM is the cluster CA's certificate: client certificates must be
	// signed by it. CertPEM and KeyPEM are the node's own certificate and
	// key, which the listener presents. All three are required unless
	// Insecure.
	CAPEM, CertPEM, KeyPEM []byte
	// Insecure serves plain HTTP without client certificates: anyone who
	// can connect may do everything (InsecureIdentity). It is allowed only
	// on a loopback address, and every request must still pass the Host,
	// Origin and Content-Type checks that stop web pages (see
	// docs/design.md, "Admin interface security").
	Insecure bool
	// Hosts are more names a TLS listener answers to in the Host header,
	// besides IP addresses, localhost and the names of the node's
	// certificate.
	Hosts []string
	// Authorize decides whether the identity of a request (its client
	// certificate's name and role) may do perm (PermRead, PermWrite,
	// PermAdmin) on heap ("" for the whole node); an error is a 403 with
	// its message. If nil, the node's access control (oss.Node.Authorize:
	// admin and server certificates may do everything, client
	// certificates what they are granted); DefaultAuthorize without a
	// node. DefaultAuthorize: admin and server
	// certificates may do everything, client certificates nothing.
	Authorize func(name string, role pki.Role, heap, perm string) error
	// MaxBodyBytes caps the body of a write (PUT of a root, POST of a
	// transaction); a larger one is refused with 413 before more is read.
	// A restore's backup is not capped: it is read a commit at a time
	// (oss.Node.RestoreHeap, some 3 × MaxCommitBytes held), and takes
	// no room for bodies but one of a node's few restore slots.
	// Other endpoints take at most 64 KiB. If zero, DefaultMaxBodyBytes;
	// above math.MaxInt64/4 (2 EiB), that.
	MaxBodyBytes int64
	// ReadTimeout bounds the reading of a request, its body included. If
	// zero, 30s.
	ReadTimeout time.Duration
	// ReadHeaderTimeout bounds the reading of a request's headers. If
	// zero, 5s (at most ReadTimeout).
	ReadHeaderTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end
	// of its answer. If zero, 30s: more than a request's own bound of 10s.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a connection waits for its next
	// request. If zero, 60s.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps a request's headers. If zero, 16 KiB.
	MaxHeaderBytes int
	// MaxConns caps the connections NewServer holds open at once,
	// authenticated or not (a connection takes one of the process's file
	// descriptors as soon as it is accepted, before its handshake): the
	// next is accepted once one closes. If zero, DefaultMaxConns.
	MaxConns int
	// MaxConnsPerIdentity caps the connections of NewServer one identity
	// (a client certificate's name and role, as RateLimit keys them) holds
	// at once, so that one certificate cannot take all MaxConns and lock
	// the other operators out. A connection past it is answered 429 at
	// its first request (Retry-After, nothing done) and closed, or closed
	// a second after its handshake if it sends none. If zero, half of
	// MaxConns (at least 1); negative, no cap but MaxConns. An insecure
	// listener, whose clients are one identity, has none.
	MaxConnsPerIdentity int
	// RateLimit is how many requests a second each identity may make of
	// the interface on average: every identity (a client certificate's
	// name and role, as Authorize sees it; the one InsecureIdentity of
	// an insecure listener) has a bucket of RateBurst tokens, refilled at
	// this rate, and each request it makes takes one (a status, which
	// answers every member's replicas, ten). A request that finds too few
	// is held a second, then answered 429 Too Many Requests with
	// Retry-After, nothing of it done, so one identity's flood leaves
	// the node's processors to its commits and to the others. If zero,
	// DefaultRateLimit; negative (or +Inf), no limit.
	RateLimit float64
	// RateBurst is how many requests an identity may make at once, after
	// a pause, beyond RateLimit's pace. If zero, DefaultRateBurst.
	RateBurst int
	// RateIdentities caps the identities whose buckets are kept: beyond
	// it an idle (full) bucket is dropped, or if none is idle the one
	// used longest ago. If zero, DefaultRateIdentities.
	RateIdentities int
	// Logger receives the listener's warnings and, at debug level, the
	// requests refused. If nil, slog.Default().
	Logger *slog.Logger
	// Now is the interface's clock: client certificates are checked
	// against it, request rates (RateLimit) and the age of a status
	// served again are measured by it. If nil, time.Now.
	Now func() time.Time
	// Logs, if not nil, keeps the node's recent log lines, which
	// GET /debug/logs serves to operators (PermAdmin); without it that
	// endpoint answers 404.
	Logs *LogRing

	// cas, if not nil, holds the CAs client certificates are verified
	// against, shared with the Server whose SetCA swaps them (Ready sets
	// it); nil: the handler's own, of CAPEM.
	cas *atomic.Pointer[x509.CertPool]
	// connsRefused, if not nil, counts the Server's connections refused
	// past their identity's share (MaxConnsPerIdentity), for /metrics.
	connsRefused func() float64
}

// DefaultMaxBodyBytes is the default Options.MaxBodyBytes: the default
// commit record (oss.Config.MaxCommitBytes, 8 MiB) and 4 MiB for JSON's
// text being larger than the record's CBOR.
const DefaultMaxBodyBytes = 12 << 20

// smallBody is the most an endpoint that takes no body reads.
const smallBody = 64 << 10

// DefaultAddr is the default Options.Addr.
const DefaultAddr = "127.0.0.1:7480"

// populate returns a copy of the options with every default filled in.
func (o *Options) populate(node *oss.Node) Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Authorize == nil {
		c.Authorize = DefaultAuthorize
		if node != nil {
			c.Authorize = func(name string, role pki.Role, heap, perm string) error {
				return node.Authorize(name, role, heap, oss.Permission(perm))
			}
		}
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	// The room for bodies read at once is bodySlots times the cap: a cap
	// of math.MaxInt64 (ossd run --http-max-body 9223372036854775807,
	// "no limit") overflowed it to a negative room that no write fitted,
	// and every write waited and was refused 503.
	c.MaxBodyBytes = min(c.MaxBodyBytes, math.MaxInt64/bodySlots)
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = min(5*time.Second, c.ReadTimeout)
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 16 << 10
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxConnsPerIdentity == 0 {
		c.MaxConnsPerIdentity = max(1, c.MaxConns/2)
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateBurst == 0 {
		c.RateBurst = DefaultRateBurst
	}
	if c.RateIdentities == 0 {
		c.RateIdentities = DefaultRateIdentities
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (o *Options) now() time.Time { return o.Now() }

// validate checks populated options before anything starts.
func (o *Options) validate() error {
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return fmt.Errorf("admin: address %q: %w", o.Addr, err)
	}
	if o.MaxBodyBytes < 0 {
		return fmt.Errorf("admin: MaxBodyBytes %d is negative", o.MaxBodyBytes)
	}
	if o.MaxConns < 0 {
		return fmt.Errorf("admin: MaxConns %d is negative", o.MaxConns)
	}
	if math.IsNaN(o.RateLimit) || o.RateBurst < 0 || o.RateIdentities < 0 {
		return fmt.Errorf("admin: RateLimit %g, RateBurst %d, RateIdentities %d: want a number, and counts not negative", o.RateLimit, o.RateBurst, o.RateIdentities)
	}
	if o.Insecure {
		if !IsLoopback(host) {
			return fmt.Errorf("admin: an insecure admin interface (plain HTTP, no client certificates) may listen only on loopback, not on %q: use 127.0.0.1, or serve TLS (drop --http-insecure)", o.Addr)
		}
		return nil
	}
	if len(o.CAPEM) == 0 || len(o.CertPEM) == 0 || len(o.KeyPEM) == 0 {
		return errors.New("admin: TLS needs the cluster CA's certificate and the node's certificate and key (--certs); --http-insecure serves plain HTTP on loopback instead")
	}
	return nil
}

// IsLoopback reports whether host (of an address to listen on) is a
// loopback IP address or localhost. An empty host, all interfaces, is not.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback()
}

// api serves the admin interface of one node.
type api struct {
	node  *oss.Node
	opts  Options
	mux   *http.ServeMux
	cas   *atomic.Pointer[x509.CertPool] // the cluster's CAs, for client certificates; Server.SetCA swaps them
	hosts []string                       // names the Host header may carry, besides IPs and localhost
	port  string                         // the listener's port, for the Host of an insecure one
	// bodies admits the writes by the bytes their bodies may take (their
	// Content-Length, or the limit when it is not declared): the node
	// holds at most bodySlots × MaxBodyBytes of them at once, whoever
	// sends them, and small writes pass many at a time.
	bodies *semaphore.Weighted
	// bodyWait bounds a write's wait for room in bodies (admitBody).
	bodyWait time.Duration
	// bodyShare is the most of bodies one client certificate holds at
	// once, half of it (takeBodyShare; operators and servers have none);
	// 0, none: an insecure listener, whose clients are one identity.
	bodyShare int64
	bodyMu    sync.Mutex         // protects bodyHeld
	bodyHeld  map[Identity]int64 // what each identity holds of bodies
	// limit keeps each identity to its request rate (admit).
	limit *limiter
	// refuseHold is how long admit holds a refused request.
	refuseHold time.Duration
	// statuses serves GET /v1/status from shared gatherings.
	statuses *statusCache
	// streams counts the backups and restores under way (streamcap.go).
	streams streams
}

// bodySlots is how many writes of the largest body the interface takes at
// once.
const bodySlots = 4

// NewHandler returns the admin interface of a node, to serve on a listener
// of Options.Addr (NewServer does that): it authenticates every request
// by its client certificate (unless Options.Insecure), checks it against
// web pages, and authorizes it with Options.Authorize. A handler served
// without TLS client certificates answers 401 to everything unless
// Insecure.
func NewHandler(node *oss.Node, opts *Options) (http.Handler, error) {
	o := opts.populate(node)
	if err := o.validate(); err != nil {
		return nil, err
	}
	a := &api{node: node, opts: o, mux: http.NewServeMux(), hosts: o.Hosts, bodies: semaphore.NewWeighted(bodySlots * o.MaxBodyBytes), bodyWait: bodyWait}
	if !o.Insecure {
		a.bodyShare, a.bodyHeld = bodySlots/2*o.MaxBodyBytes, map[Identity]int64{}
	}
	_, a.port, _ = net.SplitHostPort(o.Addr)
	nodeName := ""
	a.statuses = &statusCache{now: o.Now}
	if node != nil {
		nodeName = node.Name()
		a.statuses.gather = node.Status
	}
	a.limit = newLimiter(&o, nodeName)
	a.refuseHold = refuseHold
	if !o.Insecure {
		a.cas = o.cas
		if a.cas == nil {
			pool, _, err := ipki.ParseBundle(o.CAPEM)
			if err != nil {
				return nil, fmt.Errorf("admin: the CA's PEM: %w", err)
			}
			a.cas = new(atomic.Pointer[x509.CertPool])
			a.cas.Store(pool)
		}
		pair, err := tls.X509KeyPair(o.CertPEM, o.KeyPEM)
		if err != nil {
			return nil, fmt.Errorf("admin: the node's certificate and key: %w", err)
		}
		if leaf, err := x509.ParseCertificate(pair.Certificate[0]); err == nil {
			a.hosts = append(slices.Clone(a.hosts), leaf.DNSNames...)
		}
	}
	a.handle("GET /v1/status", "", 0, a.status)
	a.handle("GET /v1/heaps", "", 0, a.heaps)
	a.handle("PUT /v1/heaps/{heap}", PermAdmin, 0, a.createHeap)
	a.handle("DELETE /v1/heaps/{heap}", PermAdmin, 0, a.dropHeap)
	a.handle("PUT /v1/heaps/{heap}/replicas", PermAdmin, 0, a.setReplicas)
	a.handle("GET /v1/heaps/{heap}/digest", PermRead, 0, a.digest)
	a.handle("GET /v1/heaps/{heap}/objects/{id}", PermRead, 0, a.getObject)
	a.handle("GET /v1/heaps/{heap}/roots/{root}", PermRead, 0, a.getRoot)
	a.handle("PUT /v1/heaps/{heap}/roots/{root}", PermWrite, o.MaxBodyBytes, a.putRoot)
	a.handle("POST /v1/heaps/{heap}/tx", PermWrite, o.MaxBodyBytes, a.tx)
	a.registerACL()         // GET, POST, DELETE /v1/acl: acl.go
	a.registerRevocations() // GET, POST /v1/revocations: revoke.go
	a.registerUI()          // GET /ui, /ui/events, /ui/assets/: ui.go
	a.handle("GET /v1/heaps/{heap}/hot", PermRead, 0, a.hot)
	a.registerBackup() // GET /v1/heaps/{heap}/backup, POST .../restore: backup.go
	// The node's Prometheus metrics name every heap: read on all of them.
	a.handle("GET /metrics", PermRead, 0, metricsHandler(node, a.ownMetrics(nodeName)...).ServeHTTP)
	a.registerDebug() // GET /debug/pprof/..., /debug/logs (operators only): debug.go
	return a, nil
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
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		code = he.code
	case errors.As(err, &mbe):
		code = http.StatusRequestEntityTooLarge
		err = fmt.Errorf("a body of more than %d bytes is over this endpoint's limit (ossd run --http-max-body for writes)", mbe.Limit)
	case errors.Is(err, oss.ErrConflict), errors.Is(err, oss.ErrHeapExists):
		code = http.StatusConflict
	case errors.Is(err, oss.ErrNotFound), errors.Is(err, oss.ErrNoHeap):
		code = http.StatusNotFound
	case errors.Is(err, oss.ErrCommitUnknown):
		// The record reached the log; it may yet commit.
		code = http.StatusGatewayTimeout
	case errors.Is(err, oss.ErrCreatedNotOpen):
		// A heap created and not opened (a root's PUT) wrote no root; the
		// heap was created, so this is no refusal of a node that did
		// nothing, whatever stopped the open: the client's error
		// matches ErrCreatedNotOpen, not ErrNoQuorum (createdHeader).
		code = http.StatusServiceUnavailable
		w.Header().Set(createdHeader, "1")
	case errors.Is(err, oss.ErrDisk):
		// The node's disk refused a write the commit needed, before its
		// record was proposed: nothing was committed (an unknown
		// outcome is a 504, a heap created and not opened a 503, above;
		// a root's PUT that created its heap first is createdThen's).
		// Another node's disk may take it, and the client sends the
		// request on (stateHeader); it was a 500, which matched no
		// sentinel.
		code = http.StatusInsufficientStorage
		w.Header().Set(stateHeader, diskRefusedState)
	case errors.Is(err, oss.ErrCorrupt):
		// The node is damaged (its catalog replica lost, oss.Node.Damage)
		// and refused before doing anything: every call that fails with
		// the damage checks it first, an unknown outcome is a 504 and a
		// heap created is the case above. Another node may serve, and the
		// client sends the request on (stateHeader).
		code = http.StatusServiceUnavailable
		w.Header().Set(stateHeader, "damaged")
	case errors.Is(err, oss.ErrClosed):
		// The node, or its replica of the heap, closed before anything
		// was committed: a commit it may have carried out is an unknown
		// outcome (504, above), and a request that did something before
		// (a root's PUT that created its heap, createdThen) is an
		// httpError. Another node may serve it, and the client sends
		// the request on (stateHeader).
		code = http.StatusServiceUnavailable
		w.Header().Set(stateHeader, "closing")
	case errors.Is(err, context.Canceled):
		// The server is closing (Server.Close ended the request's
		// context; a client that went away reads no answer), and the
		// request did nothing: an unknown outcome is a 504, above.
		// Another node may serve it.
		code = http.StatusServiceUnavailable
		w.Header().Set(stateHeader, "closing")
	case errors.Is(err, oss.ErrNoQuorum), errors.Is(err, context.DeadlineExceeded):
		// Not committed: safe to retry.
		code = http.StatusServiceUnavailable
	case errors.As(err, new(*badRequest)), errors.As(err, new(*ValueError)), errors.Is(err, oss.ErrInvalidHeapName), errors.Is(err, oss.ErrInvalidArgument), errors.Is(err, oss.ErrBadBackup),
		errors.Is(err, oss.ErrTooLarge), errors.As(err, new(*oss.EncodeError)):
		code = http.StatusBadRequest
	}
	if errors.As(err, new(*oss.RestoreLeftError)) {
		// The code is the restore's cause's, but the node did something:
		// the heap it created may be left behind (the message says how to
		// drop it), so no state says it did nothing.
		w.Header().Del(stateHeader)
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

// refuseStale answers a damaged node's damage (oss.Node.Damage), or a
// closed node's oss.ErrClosed, and reports true if it did: a list its
// catalog replica holds (heaps, grants, revocations), lost or closed,
// is stale, and an operator shown it would not know; refused, the client
// goes on to the next node. Status still answers, and says so.
func (a *api) refuseStale(w http.ResponseWriter) bool {
	if err := a.node.Damage(); err != nil {
		fail(w, err)
		return true
	}
	if a.node.Context().Err() != nil {
		fail(w, fmt.Errorf("the node is closed, so its lists are no longer kept: %w", oss.ErrClosed))
		return true
	}
	return false
}

func (a *api) heaps(w http.ResponseWriter, r *http.Request) {
	if a.refuseStale(w) {
		return
	}
	hs := a.node.Heaps()
	if may, all := a.mayRead(r); !all {
		// A client certificate is shown the heaps it may read alone, as
		// in the status (statuscache.go).
		hs = slices.DeleteFunc(hs, func(h oss.HeapStatus) bool { return !may(h.Name) })
	}
	if hs == nil {
		hs = []oss.HeapStatus{}
	}
	reply(w, http.StatusOK, hs)
}

// replicasParam is the request's ?replicas=N, 0 if it has none.
func replicasParam(r *http.Request) (int, error) {
	q := r.URL.Query().Get("replicas")
	if q == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil {
		return 0, &badRequest{fmt.Errorf("replicas %q: %w", q, err)}
	}
	return n, nil
}

// createHeap creates a heap, with ?replicas=N voters if given; one that
// exists is a conflict.
func (a *api) createHeap(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	n, err := replicasParam(r)
	if err != nil {
		fail(w, err)
		return
	}
	opts := oss.HeapOptions{Replicas: n}
	_, err = a.node.CreateHeap(ctx, r.PathValue("heap"), &opts)
	switch {
	case errors.Is(err, oss.ErrCreatedNotOpen):
		// Created: that this node has no replica open yet is not the
		// request's failure (a retry would find it exists).
		reply(w, http.StatusOK, map[string]string{"created": r.PathValue("heap"), "note": err.Error()})
	case err != nil:
		fail(w, err)
	default:
		reply(w, http.StatusOK, map[string]string{"created": r.PathValue("heap")})
	}
}

// dropHeap drops a heap (oss.Node.DropHeap); with ?group=G only if the
// heap of that name is of group G (oss.Node.DropHeapOfGroup), so that a
// heap named by an old message (a failed restore's) is dropped and not
// another caller's created since: a heap of another group is a 404.
func (a *api) dropHeap(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	err := error(nil)
	if qs, ok := r.URL.Query()["group"]; ok {
		// Given, ?group= is the guard, whatever it holds: one empty, or
		// given twice, is no drop by name (it was, empty).
		q := strings.Join(qs, "&group=")
		g, perr := strconv.ParseUint(q, 10, 64)
		if perr != nil {
			fail(w, &badRequest{fmt.Errorf("group %q: want a heap's group, as ossd heaps lists it: %w; nothing was dropped", q, perr)})
			return
		}
		err = a.node.DropHeapOfGroup(ctx, r.PathValue("heap"), g)
	} else {
		err = a.node.DropHeap(ctx, r.PathValue("heap"))
	}
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, map[string]string{"dropped": r.PathValue("heap")})
}

// setReplicas changes a heap's replication factor to ?replicas=N
// (oss.Node.SetHeapReplicas): a missing heap is a 404, a number out of
// range a 400, an unknown outcome a 504.
func (a *api) setReplicas(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	q := r.URL.Query().Get("replicas")
	n, err := strconv.Atoi(q)
	if err != nil {
		fail(w, &badRequest{fmt.Errorf("replicas %q: want a number from 1 to 9: %w", q, err)})
		return
	}
	if err := a.node.SetHeapReplicas(ctx, r.PathValue("heap"), n); err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, Replicas{Heap: r.PathValue("heap"), Replicas: n})
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
// needed, and the heap too, which needs PermAdmin on it as PUT
// /v1/heaps/{heap} does, unless the query says create=false: then a
// missing heap is a 404 (oss.ErrNoHeap). Everything the request carries
// is checked before anything is opened or created.
func (a *api) putRoot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	root := r.PathValue("root")
	if err := a.node.CheckRootName(root); err != nil {
		fail(w, err)
		return
	}
	create := true
	if q := r.URL.Query().Get("create"); q != "" {
		var err error
		if create, err = strconv.ParseBool(q); err != nil {
			fail(w, &badRequest{fmt.Errorf("create %q: want true or false", q)})
			return
		}
	}
	body, err := readBody(r)
	if err != nil {
		fail(w, err)
		return
	}
	v, err := ParseValue(body)
	if err != nil {
		fail(w, fmt.Errorf("value: %w", err))
		return
	}
	name := r.PathValue("heap")
	created := false // the heap may have been created by this request
	h, err := a.node.Heap(ctx, name)
	if create && (errors.Is(err, oss.ErrNoHeap) || errors.Is(err, oss.ErrNotFound)) {
		if err := a.authorize(r, name, PermAdmin); err != nil {
			fail(w, fmt.Errorf("creating the heap for the root: %w", err))
			return
		}
		h, err = a.heap(ctx, name, true)
		created = err == nil
	}
	if err != nil {
		fail(w, err)
		return
	}
	var id uuid.UUID
	var index uint64
	err = h.Update(ctx, func(tx *oss.Tx) error {
		var err error
		id, err = tx.Root(root)
		if errors.Is(err, oss.ErrNotFound) {
			id = uuid.New()
			err = tx.SetRoot(root, id)
		}
		if err != nil {
			return err
		}
		tx.OnCommit(func() { index = tx.Index() })
		return oss.Put(tx, id, v)
	})
	if err != nil && created {
		err = createdThen(name, err)
	}
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, Committed{ID: id, Index: index})
}

// createdThen is the error of a root's PUT that created its heap (or
// found it created meanwhile) and then wrote no root. The request did
// something, so a cause that would have the node say it did nothing
// (oss.ErrClosed, oss.ErrCorrupt, context.Canceled, oss.ErrDisk: fail's
// stateHeader) is answered without that state, which no client sends on
// to another node: a disk's refusal a 507 (still oss.ErrDisk: the root's
// commit was refused, not committed; its text is rootRefusedError's), the
// others a 503; other causes keep their answer, an unknown outcome its
// 504.
func createdThen(heap string, err error) error {
	if errors.Is(err, oss.ErrDisk) && !errors.Is(err, oss.ErrCommitUnknown) {
		return &httpError{code: http.StatusInsufficientStorage, err: &rootRefusedError{heap: heap, err: err}}
	}
	if errors.Is(err, oss.ErrCommitUnknown) || !errors.Is(err, oss.ErrClosed) && !errors.Is(err, oss.ErrCorrupt) && !errors.Is(err, context.Canceled) {
		return err
	}
	return &httpError{code: http.StatusServiceUnavailable, err: fmt.Errorf("heap %q exists now (created for the root, by this request or meanwhile by another), and the root was not written: %w", heap, err)}
}

// rootRefusedError is a root's write the node's disk refused (err,
// matching oss.ErrDisk) after its PUT created the heap. Its text leaves
// out the sentinel's "nothing was committed", which the heap's creation
// belies: it says the heap exists and the root was not written.
type rootRefusedError struct {
	heap string
	err  error
}

func (e *rootRefusedError) Error() string {
	cause := strings.TrimPrefix(e.err.Error(), oss.ErrDisk.Error()+": ")
	return fmt.Sprintf("heap %q exists now (created for the root, by this request or meanwhile by another), and the root was not written: the node's disk refused its write: %s", e.heap, cause)
}

func (e *rootRefusedError) Unwrap() error { return e.err }

// txDepth is how deep a write's value sits in a transaction's JSON: the
// transaction, its writes, the write.
const txDepth = 3

// tx commits a conditional transaction once; a conflict is 409. The whole
// body is checked before the heap is opened: its JSON by the rules of
// ParseValue, its fields, and every value written.
func (a *api) tx(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	body, err := readBody(r)
	if err != nil {
		fail(w, err)
		return
	}
	var req Txn
	if err := decodeRequest(body, txDepth, &req); err != nil {
		fail(w, fmt.Errorf("transaction: %w", err))
		return
	}
	values := make([]any, len(req.Writes))
	for i, wr := range req.Writes {
		v, err := ParseValue(wr.Value)
		if err != nil {
			fail(w, fmt.Errorf("value of %v: %w", wr.ID, err))
			return
		}
		values[i] = v
	}
	for name := range req.Roots {
		if err := a.node.CheckRootName(name); err != nil {
			fail(w, err)
			return
		}
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

// readBody reads a request's body, which handle capped: a larger one is
// a *http.MaxBytesError (413), read no further than the cap.
func readBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, DefaultMaxBodyBytes)))
	}
	if _, err := buf.ReadFrom(r.Body); err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return nil, err
		}
		return nil, &badRequest{fmt.Errorf("reading the body: %w", err)}
	}
	return buf.Bytes(), nil
}

// jsonable turns a generically decoded CBOR value into one encoding/json
// can write: maps with non-string keys get their keys printed, and an
// integral float64 beyond 2^53 an exponent, so that it reads back as
// that float (ParseValue's rules).
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
		if x == math.Trunc(x) && math.Abs(x) >= 1<<53 {
			// Printed plainly it would read as an integer (ParseValue's
			// rule) that is not this float; with an exponent it reads
			// back as the float.
			return json.Number(strconv.FormatFloat(x, 'e', -1, 64))
		}
	case string:
		return strings.ToValidUTF8(x, "\uFFFD")
	}
	return v
}
