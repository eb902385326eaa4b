package admin

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	ipki "github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// The permissions an endpoint needs on the heap its path names, as
// Options.Authorize is asked for them: read for GET of objects, roots and
// digests, write for PUT of roots and POST of transactions, admin to
// create (also by a PUT of a root) and drop heaps. The status and the heap
// list need only an authenticated identity.
const (
	PermRead  = "read"
	PermWrite = "write"
	PermAdmin = "admin"
)

// RequestHeader marks a request as sent by a program rather than a
// browser's form: a state-changing request (PUT, POST, DELETE) without a
// body must carry it, or Content-Type: application/json. A browser sends
// neither across origins without a CORS preflight, which the interface
// never grants.
const RequestHeader = "X-Oss-Admin"

// Identity is who sent a request: the name (CommonName) and role
// (OrganizationalUnit) of its verified client certificate. On an insecure
// listener (Options.Insecure) every request is InsecureIdentity.
type Identity struct {
	Name string
	Role pki.Role
}

// InsecureIdentity is the identity of every request on an insecure
// listener: an operator without a name. Options.Authorize sees it too.
var InsecureIdentity = Identity{Name: "", Role: pki.RoleAdmin}

// ErrForbidden is what DefaultAuthorize returns for an identity it refuses;
// the interface answers 403 to any error of Options.Authorize.
var ErrForbidden = errors.New("admin: permission denied")

// DefaultAuthorize is the authorization of a node that has no access
// control of its own (Options.Authorize nil): admin (operators) and server
// certificates may do everything, client certificates nothing.
func DefaultAuthorize(name string, role pki.Role, heap, perm string) error {
	if role == pki.RoleAdmin || role == pki.RoleServer {
		return nil
	}
	what := "the node"
	if heap != "" {
		what = fmt.Sprintf("heap %q", heap)
	}
	return fmt.Errorf("%w: %s %q may not %s %s: only admin and server certificates may use the admin interface (issue one with \"ossd cert issue --role admin\")",
		ErrForbidden, role, name, perm, what)
}

// httpError is an answer other than 200 that a check gives, with its
// status.
type httpError struct {
	code int
	err  error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func refuse(code int, format string, args ...any) error {
	return &httpError{code: code, err: fmt.Errorf(format, args...)}
}

type identityKey struct{}

// identityOf returns the identity authenticate found for a request.
func identityOf(r *http.Request) Identity {
	id, _ := r.Context().Value(identityKey{}).(Identity)
	return id
}

// authenticate returns the identity of the request's client certificate,
// checked against the cluster's CAs again (the listener's handshake
// checked it first; Server.SetCA may have removed its CA since) and
// against the cluster's revocations, or
// InsecureIdentity on an insecure listener.
func (a *api) authenticate(r *http.Request) (Identity, error) {
	if a.opts.Insecure {
		return InsecureIdentity, nil
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return Identity{}, refuse(http.StatusUnauthorized,
			"a client certificate of the cluster's CA is required: use ossd's CLI with --certs DIR --user NAME (issue one with \"ossd cert issue --dir DIR --name NAME --role admin\")")
	}
	id, err := ipki.Verify(a.cas.Load(), r.TLS.PeerCertificates, a.opts.now())
	if err != nil {
		return Identity{}, refuse(http.StatusUnauthorized, "client %v", err)
	}
	// Asked at every request, not at the handshake only: a revocation
	// ends what a kept-alive connection may do too.
	if a.node != nil {
		if err := a.node.CheckCertificate(r.TLS.PeerCertificates[0]); err != nil {
			return Identity{}, refuse(http.StatusUnauthorized, "client certificate of %q: %v", id.Name, err)
		}
	}
	return Identity{Name: id.Name, Role: pki.Role(id.Role)}, nil
}

// authorize asks Options.Authorize whether the request's identity may do
// perm on heap ("" for the whole node); a refusal is a 403. A damaged
// node's answer (oss.Node.Damage, matching oss.ErrCorrupt) is no refusal:
// fail answers it as the node's damage.
func (a *api) authorize(r *http.Request, heap, perm string) error {
	id := identityOf(r)
	if err := a.opts.Authorize(id.Name, id.Role, heap, perm); err != nil {
		if errors.Is(err, oss.ErrCorrupt) {
			return err
		}
		return &httpError{code: http.StatusForbidden, err: err}
	}
	return nil
}

// handle registers an endpoint: pattern as for http.ServeMux, the
// permission it needs ("" for any authenticated identity) on the heap
// its {heap} path value names (or the whole node, heap "*", for a pattern
// without one), and the most body bytes it reads (0: none; a body of
// more than smallBody is then refused). The request was authenticated
// and checked (checkRequest) before the mux routed it, so fn only does
// its own work. Endpoints in other files of the package register here.
func (a *api) handle(pattern, perm string, maxBody int64, fn http.HandlerFunc) {
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if a.refuseRevoked(w, pattern) {
			return
		}
		limit := max(maxBody, smallBody)
		if maxBody == streamBody {
			// A stream (a restore's backup), read a commit at a time:
			// not capped as a whole, it takes a restore's slot
			// (streamcap.go) rather than room for bodies.
			limit = 0
		} else {
			if r.ContentLength > limit {
				fail(w, refuse(http.StatusRequestEntityTooLarge, "a body of %d bytes is over this endpoint's limit of %d (ossd run --http-max-body for writes)", r.ContentLength, limit))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if limit > smallBody {
			// A write: wait for room for its body among the others'.
			n := limit
			if r.ContentLength > 0 {
				n = r.ContentLength
			}
			release, ok := a.admitBody(w, r, n)
			if !ok {
				return
			}
			defer release()
		}
		heap := r.PathValue("heap")
		if !strings.Contains(pattern, "{heap}") {
			heap = "*" // the whole node: what admin on every heap allows
		} else {
			if err := checkName("heap", heap); err != nil {
				fail(w, err)
				return
			}
		}
		if perm != "" {
			if err := a.authorize(r, heap, perm); err != nil {
				fail(w, err)
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// It may change something: statuses gathered before it are
			// not shared once it answers (statuscache.go). Its body's
			// reader keeps the connection's own writer, which it tells
			// to close the connection after a body over the limit.
			w = &invalidating{ResponseWriter: w, c: a.statuses}
		}
		fn(w, r)
	})
}

// checkName refuses a heap name that is empty or not UTF-8, before
// anything is opened or committed. The node checks the rest of its rules
// (root names: oss.Node.CheckRootName, which knows the node's record limit).
func checkName(what, name string) error {
	if name == "" {
		return &badRequest{fmt.Errorf("empty %s name", what)}
	}
	if !utf8.ValidString(name) {
		return &badRequest{fmt.Errorf("%s name %q is not UTF-8", what, name)}
	}
	return nil
}

// ServeHTTP checks every request (checkRequest), authenticates it, takes
// a token of its identity's rate (admit), and routes it.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := a.checkRequest(r); err != nil {
		a.opts.Logger.Debug("admin: request refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
		fail(w, err)
		return
	}
	id, err := a.authenticate(r)
	if err != nil {
		a.opts.Logger.Debug("admin: request not authenticated", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
		fail(w, err)
		return
	}
	if !a.admit(w, r, id) { // ratelimit.go
		return
	}
	a.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
}

// checkRequest refuses what a web page in a browser could send on its
// own, whatever origin it comes from (docs/design.md, "Admin interface
// security"):
//
//   - a Host that is not this listener's (DNS rebinding: a name the
//     attacker controls resolving to the node): on an insecure listener
//     only a loopback IP literal or localhost with the listener's port;
//     with TLS an IP literal, localhost, a name in the node's certificate
//     or in Options.Hosts;
//   - an Origin other than the request's own, and a Sec-Fetch-Site other
//     than same-origin or none (a page of another origin, CSRF);
//   - a body that is not Content-Type: application/json (but a
//     restore's backup, application/octet-stream, with RequestHeader),
//     and a state-changing request with neither that type nor
//     RequestHeader (a form or a "simple" cross-origin request, which
//     needs no preflight).
func (a *api) checkRequest(r *http.Request) error {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, ""
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if err := a.checkHost(host, port); err != nil {
		return err
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	if o := r.Header.Get("Origin"); o != "" && !strings.EqualFold(o, scheme+r.Host) {
		return refuse(http.StatusForbidden, "requests from the origin %q are refused: of web pages, only the node's own dashboard (%s%s/ui) may call its admin interface", o, scheme, r.Host)
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return refuse(http.StatusForbidden, "a %s request from a web page is refused: of web pages, only the node's own dashboard (%s%s/ui) may call its admin interface", s, scheme, r.Host)
	}
	hasBody := r.ContentLength > 0 || r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody
	isJSON := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		isJSON = err == nil && mt == "application/json"
	}
	restore := isRestore(r)
	if restore && (!isType(r, backupType) || r.Header.Get(RequestHeader) == "") {
		return refuse(http.StatusUnsupportedMediaType, "a restore needs Content-Type: %s and the header %s: 1", backupType, RequestHeader)
	}
	if hasBody && !isJSON && !restore {
		return refuse(http.StatusUnsupportedMediaType, "a request body must be Content-Type: application/json (a restore's backup: %s)", backupType)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	default:
		if !isJSON && r.Header.Get(RequestHeader) == "" {
			return refuse(http.StatusUnsupportedMediaType, "a %s request needs Content-Type: application/json or the header %s: 1", r.Method, RequestHeader)
		}
	}
	return nil
}

// isType reports whether r's Content-Type is the media type mt.
func isType(r *http.Request, mt string) bool {
	got, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && got == mt
}

// checkHost checks a request's Host header, split into host and port.
func (a *api) checkHost(host, port string) error {
	ip := net.ParseIP(host)
	local := strings.EqualFold(host, "localhost") || ip != nil && ip.IsLoopback()
	if a.opts.Insecure {
		if !local {
			return refuse(http.StatusForbidden, "host %q refused: an insecure admin interface answers only to a loopback address or localhost", host)
		}
		if port != a.port && a.port != "" && a.port != "0" {
			return refuse(http.StatusForbidden, "host %q refused: port %q is not this listener's %s", host, port, a.port)
		}
		return nil
	}
	if local || ip != nil || slices.ContainsFunc(a.hosts, func(h string) bool { return strings.EqualFold(h, host) }) {
		return nil
	}
	return refuse(http.StatusForbidden, "host %q refused: want an IP address, localhost or a name of the node's certificate (or of Options.Hosts)", host)
}

// bodyWait is how long a write waits for room for its body (api.bodies)
// before it is refused: the 15s a client gives a request by default
// (ClientOptions.Timeout) less the requestTimeout the request's own work
// may take. Without a bound it waited until its client gave up, which
// then read a write that never began as one whose outcome is unknown.
const bodyWait = 15*time.Second - requestTimeout

// admitBody waits, at most a.bodyWait, for room for n bytes of a write's
// body, and returns what gives it back once the request is done; if it
// got none, it has answered: 503 with the node busy (stateHeader),
// nothing of the request read or done, so the client sends it on to the
// next node; or, for a client certificate that holds its share of the
// room (takeBodyShare), 429 at once with the state body-share
// (bodyShareState), which the client reports as ErrBodyShare.
func (a *api) admitBody(w http.ResponseWriter, r *http.Request, n int64) (release func(), ok bool) {
	id := identityOf(r)
	if !a.takeBodyShare(id, n) {
		w.Header().Set("Retry-After", "1")
		w.Header().Set(stateHeader, bodyShareState)
		fail(w, refuse(http.StatusTooManyRequests, "the %s certificate %q has writes under way on this node whose bodies may take %d bytes, the most one client certificate may (half of the %d the node reads at once: %d × ossd run's --http-max-body), so this one was not read and nothing of it was done: retry once one of its own writes has ended",
			id.Role, id.Name, a.bodyShare, bodySlots*a.opts.MaxBodyBytes, bodySlots))
		return nil, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.bodyWait)
	defer cancel()
	if err := a.bodies.Acquire(ctx, n); err != nil {
		a.giveBodyShare(id, n)
		w.Header().Set(stateHeader, "busy")
		w.Header().Set("Retry-After", "1")
		fail(w, refuse(http.StatusServiceUnavailable, "too many large writes in progress, so this one was not read; try again, or another node"))
		return nil, false
	}
	return func() {
		a.bodies.Release(n)
		a.giveBodyShare(id, n)
	}, true
}

// takeBodyShare counts n bytes of body room for id, and reports false,
// counting nothing, if id holds so much that it would pass a.bodyShare.
// Without a share one certificate granted write on any heap held all the
// room with bodySlots writes whose bodies it sent slowly (each up to the
// read timeout, 30 s, then again), and every other identity's writes
// waited bodyWait and were refused 503 meanwhile. Operators and servers
// have no share, as the insecure listener's one identity has none: the
// hole was a client crowding out the others, and an operator's third
// concurrent large write was refused, as if over its request rate.
func (a *api) takeBodyShare(id Identity, n int64) bool {
	if a.bodyShare <= 0 || unshared(id) {
		return true
	}
	a.bodyMu.Lock()
	defer a.bodyMu.Unlock()
	if a.bodyHeld[id]+n > a.bodyShare {
		return false
	}
	a.bodyHeld[id] += n
	return true
}

// unshared reports whether id's writes' bodies are counted against no
// share: an operator's or a server's.
func unshared(id Identity) bool { return id.Role == pki.RoleAdmin || id.Role == pki.RoleServer }

// bodyShareState is the stateHeader of a 429 for a client certificate's
// writes' bodies (takeBodyShare): the node refused the request before
// reading any of it.
const bodyShareState = "body-share"

// giveBodyShare gives back what takeBodyShare counted.
func (a *api) giveBodyShare(id Identity, n int64) {
	if a.bodyShare <= 0 || unshared(id) {
		return
	}
	a.bodyMu.Lock()
	defer a.bodyMu.Unlock()
	if a.bodyHeld[id] -= n; a.bodyHeld[id] <= 0 {
		delete(a.bodyHeld, id)
	}
}

// refuseRevoked answers a request of the API (/v1/, but the status) with
// 503 when the node's own certificate is revoked (oss.Node.Revoked), and
// reports true if it did: its peers refuse it, so its writes cannot
// commit and its lists and reads are as old as the revocation; refused,
// the client goes on to the next node (stateHeader). The status, the
// metrics, the dashboard and the debug endpoints still answer.
func (a *api) refuseRevoked(w http.ResponseWriter, pattern string) bool {
	if a.node == nil || !strings.Contains(pattern, " /v1/") || pattern == "GET /v1/status" {
		return false
	}
	err := a.node.Revoked()
	if err == nil {
		return false
	}
	w.Header().Set(stateHeader, "revoked")
	reply(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	return true
}
