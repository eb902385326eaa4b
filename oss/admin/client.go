package admin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	ipki "github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/oss"
)

// Client speaks a node's admin interface.
type Client struct {
	// bases are the nodes' URLs, in the order they are tried: a request
	// goes to the next only if none before it took it (tookNothing).
	bases []string
	hc    *http.Client
	// stream is hc without its Timeout, for backups and restores, which
	// take as long as their heap's size needs (the caller's ctx bounds
	// them).
	stream *http.Client
	// own describes the certificate the client presents ("" if none), for
	// the error of a node that refuses it.
	own string
}

// ClientOptions says how a Client reaches a node and who it is there.
type ClientOptions struct {
	// CertDir is the directory holding the cluster CA's certificate
	// (ca.crt) and the user's certificate and key (NAME.crt, NAME.key),
	// as "ossd cert issue --dir DIR --name NAME --role admin" makes them.
	// If empty, "certs".
	CertDir string
	// Name is the user's name, as in its certificate. If empty, "admin".
	Name string
	// TLS, if not nil, is used instead of the files of CertDir (see
	// ClientTLSConfig).
	TLS *tls.Config
	// Insecure speaks plain HTTP without a certificate, to a node run with
	// "ossd run --http-insecure": to loopback addresses only, as such a
	// node listens only there; NewClient refuses any other.
	Insecure bool
	// Timeout bounds each request. If zero, 15s.
	Timeout time.Duration
	// HandshakeTimeout bounds the TLS handshake with each node. A node
	// whose process is stopped takes the connection (its kernel accepts
	// for it) and never answers the handshake; once this has passed, the
	// request, of which that node was sent nothing, goes to the next. If
	// zero, 3s.
	HandshakeTimeout time.Duration
}

// handshakeTimeout is ClientOptions.HandshakeTimeout's default: many
// times a handshake's round trips on any network an operator uses, and
// short enough that a command given a stopped node first reaches the
// next well inside its own time (cmd/ossd's 20 s).
const handshakeTimeout = 3 * time.Second

// NewClient returns a client of the admin interface at addr (host:port),
// or of the first node of a comma-separated list of them that takes each
// request: a request goes to the next node only if the one before did
// not take it (the connection was refused, the name did not resolve,
// the TLS handshake did not end within opts.HandshakeTimeout, or
// the node answered 503 saying it is starting, damaged, closing or busy,
// or 429 that the client's identity is over its request rate there, or
// that its own writes under way there take its share of the room for
// bodies (ErrBodyShare), after the client asked again as often as rateRetries allows, which it says
// only of a request it did nothing of), so that no write is sent twice.
// If no node takes it, the error names each node and why it did not. It
// speaks HTTPS with the user's client certificate
// unless opts.Insecure; a missing certificate is an error that says how
// to issue one.
func NewClient(addr string, opts *ClientOptions) (*Client, error) {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	addrs := strings.Split(addr, ",")
	for i, a := range addrs {
		addrs[i] = strings.TrimSpace(a)
		host, _, err := net.SplitHostPort(addrs[i])
		if err != nil {
			// Without a port, https would go to 443.
			return nil, fmt.Errorf("admin address %q: want HOST:PORT, or several separated by commas: %w", addr, err)
		}
		if o.Insecure && !IsLoopback(host) {
			// No node serves plain HTTP off loopback (Options.Insecure), so
			// whatever answers there is no node, and it would read the
			// request in the clear and could answer anything.
			return nil, fmt.Errorf("admin address %q: plain HTTP (--http-insecure, or OSS_HTTP_INSECURE) goes only to a loopback address, as a node serves it only there: drop it to speak HTTPS with a certificate (--certs DIR --user NAME)", addrs[i])
		}
	}
	if o.Timeout == 0 {
		o.Timeout = 15 * time.Second
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = handshakeTimeout
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second, TLSHandshakeTimeout: o.HandshakeTimeout,
		// A node whose host drops the connection's packets leaves time
		// for the next in the list.
		DialContext: (&net.Dialer{Timeout: min(5*time.Second, o.Timeout)}).DialContext}
	scheme := "http://"
	if !o.Insecure {
		scheme = "https://"
		tr.TLSClientConfig = o.TLS
		if tr.TLSClientConfig == nil {
			var err error
			if tr.TLSClientConfig, err = LoadClientTLS(o.CertDir, o.Name); err != nil {
				return nil, err
			}
		}
	}
	bases := make([]string, len(addrs))
	for i, a := range addrs {
		bases[i] = scheme + a
	}
	return &Client{bases: bases, hc: &http.Client{Timeout: o.Timeout, Transport: tr}, stream: &http.Client{Transport: tr}, own: describeOwn(tr.TLSClientConfig, time.Now())}, nil
}

// describeOwn names the certificate a client configuration presents, its
// serial number and validity, and whether it has expired (or is not
// valid yet) at now.
func describeOwn(c *tls.Config, now time.Time) string {
	if c == nil || len(c.Certificates) == 0 {
		return ""
	}
	leaf := c.Certificates[0].Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificates[0].Certificate[0]); err != nil {
			return ""
		}
	}
	d := fmt.Sprintf("%q, serial %s, valid %s to %s", leaf.Subject.CommonName, leaf.SerialNumber.Text(16),
		leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	switch {
	case now.After(leaf.NotAfter):
		d += ": expired"
	case now.Before(leaf.NotBefore):
		d += ": not valid yet"
	}
	return d
}

// refusedByNode reports whether err is the node's TLS alert: it refused
// the client's certificate (none, another CA's, expired) at the
// handshake, so it handled no request. Over TCP the alert comes as a
// *net.OpError of Op "remote error" (tls.AlertError is QUIC's), so a
// refused certificate used to read "no node answers", and for a write
// "its outcome is unknown".
func refusedByNode(err error) bool {
	var alert tls.AlertError
	var op *net.OpError
	return errors.As(err, &alert) || errors.As(err, &op) && op.Op == "remote error"
}

// LoadClientTLS reads dir/ca.crt, dir/NAME.crt and dir/NAME.key (dir
// "certs" and name "admin" if empty) and returns ClientTLSConfig of them.
func LoadClientTLS(dir, name string) (*tls.Config, error) {
	if dir == "" {
		dir = "certs"
	}
	if name == "" {
		name = "admin"
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("no CA certificate %s: point --certs at the cluster's certificate directory (%w)", filepath.Join(dir, "ca.crt"), err)
	}
	crtPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	cert, err := os.ReadFile(crtPath)
	if err != nil {
		return nil, fmt.Errorf("no certificate %s: issue one with `ossd cert issue --dir %s --name %s --role admin` (%w)", crtPath, dir, name, err)
	}
	key, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("no key %s: it is written with %s by `ossd cert issue --dir %s --name %s --role admin` (%w)", keyPath, crtPath, dir, name, err)
	}
	c, err := ClientTLSConfig(ca, cert, key)
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", crtPath, keyPath, err)
	}
	return c, nil
}

// ClientTLSConfig returns the TLS configuration of a client of the admin
// interface: it presents the user's certificate and key (PEM), and
// accepts a node whose certificate the cluster's CA (caPEM) signed for a
// node's role (server or client), whatever the node's name: the admin
// address, not a name, says which node the client wants.
func ClientTLSConfig(caPEM, certPEM, keyPEM []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("admin: no certificate in the CA's PEM")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("admin: the user's certificate and key: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		// The chain is verified below, against the cluster's CA, without
		// the host name check: node certificates name nodes, not addresses.
		InsecureSkipVerify: true,
		// A refusal is a *tls.CertificateVerificationError, as the
		// handshake's own check gives: the request was never sent.
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := ipki.Verify(pool, cs.PeerCertificates, time.Now())
			if err != nil {
				return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: fmt.Errorf("admin: the node's %w", err)}
			}
			if !ipki.NodeRole(id.Role) {
				return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates,
					Err: fmt.Errorf("admin: the certificate of %q is not a node's (role %q)", id.Name, id.Role)}
			}
			return nil
		},
	}, nil
}

// Close releases the client's idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// StatusError is an error answer of the interface.
type StatusError struct {
	Code    int
	Message string
	// starting says the node answered that it is starting (stateHeader):
	// it handled nothing, so the request may go to the next node.
	starting bool
	// damaged says the node answered that it is damaged (stateHeader):
	// the error matches oss.ErrCorrupt, and the request may go to the
	// next node.
	damaged bool
	// closing says the node answered that it, or its replica of the
	// heap, closed before it did anything of the request (stateHeader):
	// the error matches oss.ErrClosed, and the request may go to the
	// next node.
	closing bool
	// busy says the node answered that it had no room for the request's
	// body and read none of it (stateHeader): the request may go to the
	// next node.
	busy bool
	// revoked says the node answered that its own certificate is revoked
	// (stateHeader): the error matches oss.ErrRevoked, and the request
	// may go to the next node.
	revoked bool
	// limited says the node answered 429 that the client's identity is
	// over its request rate there, and did nothing of the request
	// (stateHeader): the error matches ErrRateLimited; the client asks
	// again after retryAfter, then goes on to the next node.
	limited bool
	// bodyShare says the node answered 429 that the client certificate's
	// own writes under way there take its share of the room for bodies,
	// and did nothing of the request (stateHeader): the error matches
	// ErrBodyShare, and is retried as limited is.
	bodyShare bool
	// created says the node answered 503 that the request created its
	// heap and could not open it there (createdHeader): the error
	// matches oss.ErrCreatedNotOpen, not oss.ErrNoQuorum (something
	// was committed), and the request is not sent on.
	created bool
	// disk says the node answered 507 that its disk refused a write the
	// request needed, before anything was committed (stateHeader): the
	// error matches oss.ErrDisk, and the request may go to the next
	// node, whose disk is its own. A 507 without the state (a root's PUT
	// that created its heap first) matches oss.ErrDisk too, and is not
	// sent on (TookNothing tells the two apart).
	disk       bool
	retryAfter time.Duration
	// base is the URL of the node that answered.
	base string
}

// stateHeader is the header of a 503 by which a node says it did nothing
// of the request, because it is starting (Starting), damaged (fail, on
// an error matching oss.ErrCorrupt: oss.Node.Damage), closing (fail, on
// an error matching oss.ErrClosed: the node, or its replica of the heap,
// closed before anything was committed), busy (handle: no room for the
// body of another large write, none of which was read) or revoked
// (refuseRevoked: the node's own certificate is); the header of a 429
// (the client's rate or share, nothing done) and of a 507 (fail, on an
// error matching oss.ErrDisk: the node's disk refused a write before
// anything was committed) says the same. A client may send the request
// to another node.
const stateHeader = "X-Oss-Node-State"

// createdHeader is the header of a 503 by which a node says the request
// created its heap (oss.ErrCreatedNotOpen) and stopped there: unlike a
// bare 503 (oss.ErrNoQuorum), something was committed.
const createdHeader = "X-Oss-Heap-Created"

// diskRefusedState is the stateHeader of a 507: the node's disk refused a
// write of the commit before its record was proposed (oss.ErrDisk), so
// nothing was committed.
const diskRefusedState = "disk-refused"

func (e *StatusError) Error() string { return e.Message }

// Is maps answers to the oss errors they stand for.
func (e *StatusError) Is(target error) bool {
	switch e.Code {
	case http.StatusConflict:
		return target == oss.ErrConflict
	case http.StatusNotFound:
		return target == oss.ErrNotFound
	case http.StatusServiceUnavailable:
		switch {
		case e.created:
			return target == oss.ErrCreatedNotOpen
		case e.damaged:
			return target == oss.ErrCorrupt
		case e.closing:
			return target == oss.ErrClosed
		case e.busy:
			return false // refused for load: neither closed nor short of a quorum
		case e.revoked:
			return target == oss.ErrRevoked
		}
		return target == oss.ErrNoQuorum
	case http.StatusGatewayTimeout:
		return target == oss.ErrCommitUnknown
	case http.StatusInsufficientStorage:
		return target == oss.ErrDisk
	case http.StatusTooManyRequests:
		if e.bodyShare {
			return target == ErrBodyShare
		}
		return target == ErrRateLimited
	case http.StatusUnauthorized, http.StatusForbidden:
		return target == ErrForbidden
	}
	return false
}

// Do sends a request and decodes a JSON answer into out (unless nil). An
// error status becomes a *StatusError with the node's message.
func (c *Client) Do(ctx context.Context, method, path string, body any, out any) error {
	var text []byte
	if body != nil {
		var err error
		if text, err = json.Marshal(body); err != nil {
			return err
		}
	}
	b, err := c.send(ctx, method, path, text)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		if mayHaveRun(method, err) {
			// A 200 says the write was carried out; what it answered
			// (an answer cut where the connection ends it) was lost.
			return fmt.Errorf("the node's answer to a %s %s does not decode: its outcome is unknown; read it back fresh before trying again: %w (%w)", method, path, oss.ErrCommitUnknown, err)
		}
		return err
	}
	return nil
}

// Fetch GETs path (with its query) and returns the answer's body as it
// is: metrics, logs, profiles. An error status becomes a *StatusError
// with the node's message.
func (c *Client) Fetch(ctx context.Context, path string) ([]byte, error) {
	return c.send(ctx, "GET", path, nil)
}

// send sends a request (with body, unless nil) to the first node that
// takes it and returns the body of a 200 answer. A node that did not take
// it (tookNothing: none answered before the request went out, or the
// node answered that it is starting, damaged, closing or busy) passes it
// to the next; a
// write that a node may have carried out is never sent on. If no node
// took it, the error names each and why.
func (c *Client) send(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	var skipped []error
	for _, base := range c.bases {
		b, err := c.sendPaced(ctx, base, method, path, body)
		if !tookNothing(err) {
			return b, err
		}
		skipped = append(skipped, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(skipped) == 1 {
		return nil, skipped[0]
	}
	return nil, &skippedError{errs: skipped}
}

// ErrRateLimited is what an error of a request matches when the node
// refused it, doing nothing of it, because the client's identity was over
// its request rate there (429 Too Many Requests; Options.RateLimit).
var ErrRateLimited = errors.New("admin: over the identity's request rate limit")

// ErrBodyShare is what an error of a write matches when the node refused
// it, reading and doing nothing of it, because the client certificate's
// own writes under way there already took its share of the room for
// writes' bodies (429 Too Many Requests): one ends, and it may write
// again. Operators' and servers' writes have no share.
var ErrBodyShare = errors.New("admin: the certificate's own concurrent writes take its share of the node's room for bodies")

// rateRetries is how many times a request a node refused for the rate
// (429) is sent to it again, each after the delay its Retry-After asks,
// before the next node is tried; maxRetryAfter is the longest delay
// waited. A delay longer, or past the request's context, is not waited.
const (
	rateRetries   = 2
	maxRetryAfter = 5 * time.Second
)

// sendPaced is sendTo that, when the node refuses the request for the
// client's identity's rate (ErrRateLimited) or its share of the room for
// bodies (ErrBodyShare), nothing of it done,
// waits the delay the node asks and sends it again, at most rateRetries
// times, then returns the refusal, saying how often it asked.
func (c *Client) sendPaced(ctx context.Context, base, method, path string, body []byte) ([]byte, error) {
	for try := 0; ; try++ {
		b, err := c.sendTo(ctx, base, method, path, body)
		var se *StatusError
		if !errors.As(err, &se) || !se.limited && !se.bodyShare {
			return b, err
		}
		wait := se.retryAfter
		deadline, ok := ctx.Deadline()
		if try == rateRetries || wait > maxRetryAfter || ok && time.Until(deadline) < wait {
			if try > 0 {
				se.Message += fmt.Sprintf(" (asked %d times, waiting as the node asked in between)", try+1)
			}
			return b, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return b, err
		}
	}
}

// retryAfter reads a Retry-After header's delay in seconds: 1s if it is
// missing or not a number of seconds.
func retryAfter(h string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || n < 1 {
		return time.Second
	}
	return time.Duration(min(n, 3600)) * time.Second
}

// tookNothing reports whether err says that the node did nothing of the
// request, so that it may go to the next: it reached no node
// (*noNodeError), it or the client refused the other's certificate at
// the handshake (*certRefusedError), or the node answered 503 saying it
// is starting, damaged, closing, busy or revoked, 429 saying the
// client's identity is over its rate or its share of the room for
// bodies, or 507 saying its disk refused the commit's write before
// anything was committed (stateHeader), which it does only for a
// request it refused before doing any of it.
func tookNothing(err error) bool {
	var nobody *noNodeError
	var refused *certRefusedError
	var se *StatusError
	return errors.As(err, &nobody) || errors.As(err, &refused) || errors.As(err, &se) && se.state() != ""
}

// TookNothing reports whether err, a request's error, says that no node
// did anything of the request: none answered, or each one tried refused
// it before doing any of it (a 503 or 429 with the node's state, a 507
// of a disk that refused the commit's write before anything was
// committed), the client going on to the next node of its list. A 507
// without the state matches oss.ErrDisk too, yet the request did
// something: a root's PUT created its heap, and then the node's disk
// refused the root's write; TookNothing is false of it, and the heap
// exists.
func TookNothing(err error) bool {
	var skipped *skippedError
	return err != nil && (tookNothing(err) || errors.As(err, &skipped))
}

// skippedError is a request that no node of the list took: each node's
// error, in the order they were tried. It matches what any of them
// matches (oss.ErrCorrupt if one is damaged, oss.ErrNoQuorum if one is
// starting, oss.ErrClosed if one is closing), never oss.ErrCommitUnknown:
// nothing was done.
type skippedError struct{ errs []error }

func (e *skippedError) Error() string {
	var b strings.Builder
	b.WriteString("no node took the request, so nothing was done: ")
	for i, err := range e.errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(skipReason(err))
	}
	return b.String()
}

func (e *skippedError) Unwrap() []error { return e.errs }

// skipReason says why a node did not take a request: it is starting,
// damaged, closing or busy (the node's words), or it did not answer.
func skipReason(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s is %s: %s", se.base, se.state(), se.Message)
	}
	return err.Error()
}

// state is the node's state its 503 said (stateHeader), "" if none: a
// request answered with one was not carried out.
func (e *StatusError) state() string {
	switch {
	case e.starting:
		return "starting"
	case e.damaged:
		return "damaged"
	case e.closing:
		return "closing"
	case e.busy:
		return "busy"
	case e.revoked:
		return "revoked"
	case e.limited:
		return rateLimitedState
	case e.bodyShare:
		return bodyShareState
	case e.disk:
		return diskRefusedState
	}
	return ""
}

// noNodeError is a request that reached no node: nothing was done.
type noNodeError struct {
	base string
	err  error
}

func (e *noNodeError) Error() string {
	return fmt.Sprintf("no node answers at %s: %v%s", e.base, e.err, refusedHint(e.err)) // refusedhint.go
}
func (e *noNodeError) Unwrap() error { return e.err }

// sendTo sends a request to the node at base; see send.
func (c *Client) sendTo(ctx context.Context, base, method, path string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, err
	}
	if method != http.MethodGet && method != http.MethodHead {
		req.Header.Set("Content-Type", "application/json")
	}
	req, sent := traceSent(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		if refusedByNode(err) {
			return nil, &certRefusedError{err: err, msg: fmt.Sprintf("the node at %s refused this client's certificate (%s), so nothing was done: %v (is it of the cluster's CA, and not expired?)", base, c.own, err)}
		}
		var refused *tls.CertificateVerificationError
		if errors.As(err, &refused) {
			return nil, nodeCertRefused(base, refused) // certrefused.go
		}
		if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
			return nil, fmt.Errorf("the node at %s serves plain HTTP (ossd run --http-insecure): speak it with --http-insecure: %w", base, err)
		}
		if sent.Load() && mayHaveRun(method, err) {
			return nil, fmt.Errorf("the node at %s gave no answer to a %s it may have carried out: its outcome is unknown; read it back fresh before trying again: %w (%w)", base, method, oss.ErrCommitUnknown, err)
		}
		return nil, &noNodeError{base: base, err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil && resp.StatusCode == http.StatusOK {
		if mayHaveRun(method, err) {
			// The node said it carried the write out, and its answer
			// (the index, the object's ID) was lost: not a failure.
			return nil, fmt.Errorf("the node at %s answered a %s %s and its answer was cut: its outcome is unknown; read it back fresh before trying again: %w (%w)", base, method, resp.Status, oss.ErrCommitUnknown, err)
		}
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp, b, err, method, path, base)
	}
	return b, nil
}

// statusError is the *StatusError of a node's answer resp other than
// 200, whose body b was read with err.
func statusError(resp *http.Response, b []byte, err error, method, path, base string) *StatusError {
	// The status says what became of the request, whether or not
	// its body could be read.
	var e struct{ Error string }
	if err != nil || json.Unmarshal(b, &e) != nil || e.Error == "" {
		e.Error = fmt.Sprintf("%s %s: %s", method, cutPath(path), resp.Status)
		if resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge {
			e.Error += fmt.Sprintf(": the request's path of %d bytes and its headers are over the node's limit (Options.MaxHeaderBytes): nothing was done", len(path))
		}
		if err != nil {
			e.Error += fmt.Sprintf(" (its message was cut: %v)", err)
		}
		if bytes.Contains(b, []byte("HTTP request to an HTTPS server")) {
			e.Error += ": the node serves HTTPS: drop --http-insecure and present a certificate (--certs DIR --user NAME)"
		}
	}
	state := ""
	switch resp.StatusCode {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusInsufficientStorage:
		state = resp.Header.Get(stateHeader)
	}
	se := &StatusError{Code: resp.StatusCode, Message: e.Error, base: base,
		starting: state == "starting", damaged: state == "damaged", closing: state == "closing", busy: state == "busy", revoked: state == "revoked",
		disk:    resp.StatusCode == http.StatusInsufficientStorage && state == diskRefusedState,
		created: resp.StatusCode == http.StatusServiceUnavailable && state == "" && resp.Header.Get(createdHeader) != ""}
	if resp.StatusCode == http.StatusTooManyRequests && (state == rateLimitedState || state == bodyShareState) {
		se.limited, se.bodyShare = state == rateLimitedState, state == bodyShareState
		se.retryAfter = retryAfter(resp.Header.Get("Retry-After"))
	}
	return se
}

// traceSent returns req with a trace that sets sent once the request's
// headers are written. A request whose headers were not all written
// reached no handler, whatever the error: a node that took the TCP
// connection and never finished the TLS handshake (a stopped process,
// whose kernel accepts for it), or cut it during the handshake, was sent
// nothing, and a write goes on to the next node.
func traceSent(req *http.Request) (*http.Request, *atomic.Bool) {
	sent := new(atomic.Bool)
	trace := &httptrace.ClientTrace{WroteHeaders: func() { sent.Store(true) }}
	return req.WithContext(httptrace.WithClientTrace(req.Context(), trace)), sent
}

// cutPath is a request's path for an error: cut after 256 bytes, as the
// names in it may be megabytes long.
func cutPath(path string) string {
	if len(path) <= 256 {
		return path
	}
	return path[:256] + "..."
}

// mayHaveRun reports whether a request that failed with err may have
// reached the node and changed something there: one that is not a read,
// failed after its connection was made (cut, or no answer in time), so
// that the node may have carried it out and its answer was lost.
func mayHaveRun(method string, err error) bool {
	if method == http.MethodGet || method == http.MethodHead {
		return false
	}
	var op *net.OpError
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	switch {
	case errors.As(err, &op) && op.Op == "dial", errors.As(err, &dns), errors.As(err, &cert):
		return false // never sent
	}
	return true
}

func heapPath(heap string) string { return "/v1/heaps/" + segment(heap) }

// named refuses an empty heap name, or an empty root name among roots,
// before a request is sent: its path would lose the segment and name
// another endpoint or none, whose 404 or 405 read as a missing heap
// ("ossd put" of an empty root in heap h answered that h was dropped
// since the put began).
func named(heap string, roots ...string) error {
	if heap == "" {
		return fmt.Errorf("%w \"\": want 1 to 255 bytes of UTF-8", oss.ErrInvalidHeapName)
	}
	if slices.Contains(roots, "") {
		return fmt.Errorf("%w: empty root name", oss.ErrInvalidArgument)
	}
	return nil
}

// segment escapes a heap or root name as one segment of a path. "." and
// ".." are escaped too, as url.PathEscape leaves them: a path that holds
// them plainly is cleaned (the segment dropped, or the one before it
// with it) before it is routed, so a heap named ".." was one the
// interface could create and no client could name.
func segment(name string) string {
	switch name {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(name)
}

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
	if err := named(heap, root); err != nil {
		return o, err
	}
	err := c.Do(ctx, "GET", heapPath(heap)+"/roots/"+segment(root)+freshQuery(fresh), nil, &o)
	return o, err
}

// Object reads an object; fresh makes the read linearizable.
func (c *Client) Object(ctx context.Context, heap string, id uuid.UUID, fresh bool) (Object, error) {
	var o Object
	if err := named(heap); err != nil {
		return o, err
	}
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
	if err := named(heap, root); err != nil {
		return out, err
	}
	err := c.Do(ctx, "PUT", heapPath(heap)+"/roots/"+segment(root), value, &out)
	return out, err
}

// PutRootInExisting is PutRoot in a heap that exists: a missing heap is
// not created, and is an error matching oss.ErrNoHeap. It is the write of
// a caller that saw the heap exist: one dropped meanwhile stays dropped.
func (c *Client) PutRootInExisting(ctx context.Context, heap, root string, value any) (Committed, error) {
	var out Committed
	if err := named(heap, root); err != nil {
		return out, err
	}
	err := c.Do(ctx, "PUT", heapPath(heap)+"/roots/"+segment(root)+"?create=false", value, &out)
	if se, ok := err.(*StatusError); ok && se.Code == http.StatusNotFound {
		return out, &noHeapError{se.Message}
	}
	return out, err
}

// noHeapError is the answer to a write in a heap that does not exist.
type noHeapError struct{ msg string }

func (e *noHeapError) Error() string { return e.msg }

// Is reports whether target is oss.ErrNoHeap or oss.ErrNotFound.
func (e *noHeapError) Is(target error) bool {
	return target == oss.ErrNoHeap || target == oss.ErrNotFound
}

// Commit commits a conditional transaction once. An error matching
// oss.ErrConflict means a read version was out of date.
func (c *Client) Commit(ctx context.Context, heap string, t *Txn) (Committed, error) {
	var out Committed
	if err := named(heap); err != nil {
		return out, err
	}
	err := c.Do(ctx, "POST", heapPath(heap)+"/tx", t, &out)
	return out, err
}

// Digest returns the node's replica digest of a heap.
func (c *Client) Digest(ctx context.Context, heap string) (Digest, error) {
	var d Digest
	if err := named(heap); err != nil {
		return d, err
	}
	err := c.Do(ctx, "GET", heapPath(heap)+"/digest", nil, &d)
	return d, err
}

// CreateHeap creates a heap with the given number of voters (0: the
// node's default). A heap that exists already is an error matching
// oss.ErrHeapExists.
func (c *Client) CreateHeap(ctx context.Context, heap string, replicas int) error {
	if err := named(heap); err != nil {
		return err
	}
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

// SetHeapReplicas changes a heap's replication factor, the voters it
// keeps (oss.Node.SetHeapReplicas). A number out of 1..9 is an error
// matching oss.ErrInvalidArgument, sent nowhere; a heap that does not
// exist is a 404 (matching oss.ErrNotFound), an unknown outcome an error
// matching oss.ErrCommitUnknown.
func (c *Client) SetHeapReplicas(ctx context.Context, heap string, replicas int) error {
	if err := named(heap); err != nil {
		return err
	}
	if replicas < 1 || replicas > 9 {
		return fmt.Errorf("%w: heap %q: replicas %d is not between 1 and 9", oss.ErrInvalidArgument, heap, replicas)
	}
	return c.Do(ctx, "PUT", heapPath(heap)+"/replicas?replicas="+strconv.Itoa(replicas), nil, nil)
}

// DropHeap drops a heap.
func (c *Client) DropHeap(ctx context.Context, heap string) error {
	if err := named(heap); err != nil {
		return err
	}
	return c.Do(ctx, "DELETE", heapPath(heap), nil, nil)
}

// DropHeapOfGroup drops a heap only if it is of group group
// (oss.HeapStatus.Group; oss.Node.DropHeapOfGroup): a heap of the name
// with another group, created since, is left as it is, and the error
// matches oss.ErrNotFound, as for a heap that does not exist.
func (c *Client) DropHeapOfGroup(ctx context.Context, heap string, group uint64) error {
	if err := named(heap); err != nil {
		return err
	}
	return c.Do(ctx, "DELETE", heapPath(heap)+"?group="+strconv.FormatUint(group, 10), nil, nil)
}
