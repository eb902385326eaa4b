package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ipki "github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/pki"
)

// request sends a request with hc and returns its status and body.
func request(t *testing.T, hc *http.Client, method, url, contentType string, body io.Reader, hdr ...string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func tlsClient(t *testing.T, c *tls.Config) *http.Client {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: c}}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// TestAuthentication: issue 14, row 4. PUT, GET and DELETE of
// /v1/heaps/NAME answered 200 to anyone who could connect. Now only a
// client certificate of the cluster's CA, valid now, gets in, and what it
// may do is its role's (or Options.Authorize's) to say.
func TestAuthentication(t *testing.T) {
	ctx := context.Background()
	n := startNode(t)
	p := newPKI(t)
	srv := serve(t, n, p.serverOptions(t))
	adm := p.client(t, srv, "admin")
	if _, err := adm.PutRoot(ctx, "bank", "alice", 100); err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, n, "bank")

	caPEM := p.read(t, "ca.crt")
	noCert, err := admin.ClientTLSConfig(caPEM, p.read(t, "admin.crt"), p.read(t, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	noCert.Certificates = nil
	other := newPKI(t) // another cluster's CA: its admin certificate
	otherCA, err := admin.ClientTLSConfig(caPEM, other.read(t, "admin.crt"), other.read(t, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	p.issue(t, "old", ipki.RoleAdmin, time.Now().Add(-48*time.Hour), 24*time.Hour)
	expired := p.tlsConfig(t, "old")
	for _, tc := range []struct {
		name string
		c    *tls.Config
	}{{"no client certificate", noCert}, {"a certificate of another CA", otherCA}, {"an expired certificate", expired}} {
		hc := tlsClient(t, tc.c)
		for _, m := range []string{"PUT", "GET", "DELETE"} {
			code, body, err := request(t, hc, m, srv.URL()+"/v1/heaps/bank", "application/json", nil)
			if err == nil {
				t.Errorf("%s: %s /v1/heaps/bank answered %d %s", tc.name, m, code, body)
			}
		}
		code, body, err := request(t, hc, "GET", srv.URL()+"/v1/heaps/bank/roots/alice", "", nil)
		if err == nil {
			t.Errorf("%s: a read answered %d %s", tc.name, code, body)
		}
	}
	// Plain HTTP to the TLS listener is no request either.
	if code, _, err := request(t, http.DefaultClient, "GET", "http://"+srv.Addr()+"/v1/heaps", "", nil); err == nil && code == http.StatusOK {
		t.Error("plain HTTP to the TLS listener answered 200")
	}
	// The handler checks the certificate itself too: served without TLS,
	// it answers 401 with a JSON error.
	o := p.serverOptions(t)
	hd, err := admin.NewHandler(n, o)
	if err != nil {
		t.Fatal(err)
	}
	plain := httptest.NewServer(hd)
	defer plain.Close()
	for _, m := range []string{"PUT", "GET", "DELETE"} {
		code, body, err := request(t, plain.Client(), m, plain.URL+"/v1/heaps/bank", "application/json", nil)
		var e struct{ Error string }
		if err != nil || code != http.StatusUnauthorized || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, "client certificate") {
			t.Errorf("%s without TLS: %d %s %v", m, code, body, err)
		}
	}

	// Default authorization: admin and server certificates may do
	// everything, a client certificate (a node that only keeps learner
	// replicas) nothing but the status.
	alice := p.client(t, srv, "alice")
	if _, err := alice.Status(ctx); err != nil {
		t.Errorf("status as a client certificate: %v", err)
	}
	if _, err := alice.Root(ctx, "bank", "alice", false); !errors.Is(err, admin.ErrForbidden) || !strings.Contains(err.Error(), "may not read") {
		t.Errorf("a read as a client certificate: %v", err)
	}
	if _, err := alice.PutRoot(ctx, "bank", "alice", 0); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("a write as a client certificate: %v", err)
	}
	if err := alice.DropHeap(ctx, "bank"); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("a drop as a client certificate: %v", err)
	}
	if err := alice.CreateHeap(ctx, "mine", 1); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("a creation as a client certificate: %v", err)
	}
	if st := stateOf(t, n, "bank"); st != before {
		t.Fatalf("refused requests changed the heap: %+v, was %+v", st, before)
	}
	if o, err := p.client(t, srv, "n1").Root(ctx, "bank", "alice", false); err != nil || o.Value != float64(100) {
		t.Errorf("a read as a server certificate: %+v %v", o, err)
	}
	if err := adm.DropHeap(ctx, "bank"); err != nil {
		t.Errorf("a drop as the admin: %v", err)
	}

	// A revoked certificate is refused from the next request on, on the
	// connection it had open too.
	p.issue(t, "op2", ipki.RoleAdmin, time.Now(), time.Hour)
	op2 := p.client(t, srv, "op2")
	if _, err := op2.Status(ctx); err != nil {
		t.Fatalf("op2 before its revocation: %v", err)
	}
	if _, err := n.RevokeCertificate(ctx, "op2", nil); err != nil {
		t.Fatal(err)
	}
	if err := op2.CreateHeap(ctx, "after", 1); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("a revoked certificate: %v", err)
	}
	if _, err := n.Heap(ctx, "after"); err == nil {
		t.Error("a revoked certificate created a heap")
	}
}

// TestAuthorizeAsksPerEndpoint: every endpoint asks Options.Authorize for
// its permission on its heap, with the identity of the certificate, and
// an error of Authorize is a 403 with its message.
func TestAuthorizeAsksPerEndpoint(t *testing.T) {
	ctx := context.Background()
	n := startNode(t)
	p := newPKI(t)
	type ask struct {
		name      string
		role      pki.Role
		heap, prm string
	}
	var asked []ask
	o := p.serverOptions(t)
	o.Authorize = func(name string, role pki.Role, heap, perm string) error {
		asked = append(asked, ask{name, role, heap, perm})
		if name == "alice" && !(heap == "pub" && perm == admin.PermRead) {
			return fmt.Errorf("%w: alice may only read pub", admin.ErrForbidden)
		}
		return nil
	}
	srv := serve(t, n, o)
	adm := p.client(t, srv, "admin")
	put, err := adm.PutRoot(ctx, "pub", "r", "v")
	if err != nil {
		t.Fatal(err)
	}
	id := put.ID.String()
	txn := []byte(`{"writes":[{"id":"` + id + `","value":"w"}]}`)
	hc := tlsClient(t, p.tlsConfig(t, "admin"))
	for _, tc := range []struct {
		method, path string
		body         []byte
		want         []ask
	}{
		// The status and the heap list refuse no one: they ask whether
		// the identity may read every heap, and show one that may not
		// the heaps it may read alone.
		{"GET", "/v1/status", nil, []ask{{"admin", pki.RoleAdmin, "*", admin.PermRead}}},
		{"GET", "/v1/heaps", nil, []ask{{"admin", pki.RoleAdmin, "*", admin.PermRead}}},
		{"GET", "/v1/heaps/pub/roots/r", nil, []ask{{"admin", pki.RoleAdmin, "pub", admin.PermRead}}},
		{"GET", "/v1/heaps/pub/objects/" + id, nil, []ask{{"admin", pki.RoleAdmin, "pub", admin.PermRead}}},
		{"GET", "/v1/heaps/pub/digest", nil, []ask{{"admin", pki.RoleAdmin, "pub", admin.PermRead}}},
		{"PUT", "/v1/heaps/pub/roots/r", []byte(`"x"`), []ask{{"admin", pki.RoleAdmin, "pub", admin.PermWrite}}},
		{"POST", "/v1/heaps/pub/tx", txn, []ask{{"admin", pki.RoleAdmin, "pub", admin.PermWrite}}},
		// A root's PUT creates a missing heap, which needs admin on it.
		{"PUT", "/v1/heaps/new/roots/r", []byte(`1`), []ask{{"admin", pki.RoleAdmin, "new", admin.PermWrite}, {"admin", pki.RoleAdmin, "new", admin.PermAdmin}}},
		{"PUT", "/v1/heaps/other", nil, []ask{{"admin", pki.RoleAdmin, "other", admin.PermAdmin}}},
		{"DELETE", "/v1/heaps/other", nil, []ask{{"admin", pki.RoleAdmin, "other", admin.PermAdmin}}},
	} {
		asked = nil
		code, body, err := request(t, hc, tc.method, srv.URL()+tc.path, "application/json", bytes.NewReader(tc.body))
		if err != nil || code != http.StatusOK {
			t.Fatalf("%s %s: %d %s %v", tc.method, tc.path, code, body, err)
		}
		if !slices.Equal(asked, tc.want) {
			t.Errorf("%s %s asked %v, want %v", tc.method, tc.path, asked, tc.want)
		}
	}
	alice := p.client(t, srv, "alice")
	if _, err := alice.Root(ctx, "pub", "r", false); err != nil {
		t.Errorf("alice reads pub: %v", err)
	}
	before := stateOf(t, n, "pub")
	_, err = alice.PutRoot(ctx, "pub", "r", "defaced")
	var se *admin.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusForbidden || !strings.Contains(se.Message, "alice may only read pub") {
		t.Errorf("alice writes pub: %v", err)
	}
	if st := stateOf(t, n, "pub"); st != before {
		t.Errorf("a refused write changed the heap")
	}
}

// TestInsecureOnlyOnLoopback: issue 14, row 5. The admin interface bound
// every interface without a word. An insecure (plain HTTP) listener is
// refused off loopback; a TLS one may listen anywhere, with a warning.
func TestInsecureOnlyOnLoopback(t *testing.T) {
	n := startNode(t)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "example.com:0"} {
		if _, err := admin.NewServer(n, &admin.Options{Addr: addr, Insecure: true}); err == nil || !strings.Contains(err.Error(), "only on loopback") {
			t.Errorf("insecure on %s: %v", addr, err)
		}
		if _, err := admin.NewHandler(n, &admin.Options{Addr: addr, Insecure: true}); err == nil {
			t.Errorf("an insecure handler for %s", addr)
		}
	}
	if _, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "TLS needs") {
		t.Errorf("TLS without certificates: %v", err)
	}
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Errorf("insecure URL %s", srv.URL())
	}
	var logs bytes.Buffer
	p := newPKI(t)
	o := p.serverOptions(t)
	o.Addr = "0.0.0.0:0"
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	tsrv := serve(t, n, o)
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "reachable from the network") {
		t.Errorf("TLS on all interfaces logged %q", logs.String())
	}
	_, port, _ := net.SplitHostPort(tsrv.Addr())
	c, err := admin.NewClient("127.0.0.1:"+port, &admin.ClientOptions{CertDir: p.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Heaps(context.Background()); err != nil {
		t.Errorf("TLS on all interfaces, through loopback: %v", err)
	}
}

// TestBrowserRequestsRefused: issue 14, row 6. "Host: attacker.example"
// (DNS rebinding), a foreign Origin, and Content-Type: text/plain on POST
// /tx and DELETE (CSRF) were all answered 200. On the insecure listener
// and on the TLS one, each is refused and changes nothing.
func TestBrowserRequestsRefused(t *testing.T) {
	n := startNode(t)
	p := newPKI(t)
	for _, mode := range []string{"insecure", "tls"} {
		t.Run(mode, func(t *testing.T) {
			var srv *admin.Server
			var hc *http.Client
			if mode == "insecure" {
				srv = serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
				hc = &http.Client{Timeout: 10 * time.Second}
			} else {
				srv = serve(t, n, p.serverOptions(t))
				hc = tlsClient(t, p.tlsConfig(t, "admin"))
			}
			url, host := srv.URL(), srv.Addr()
			_, port, _ := net.SplitHostPort(host)
			heap := "csrf-" + mode
			code, body, err := request(t, hc, "PUT", url+"/v1/heaps/"+heap+"/roots/r", "application/json", strings.NewReader(`"secret"`))
			if err != nil || code != http.StatusOK {
				t.Fatalf("seed: %d %s %v", code, body, err)
			}
			var put admin.Committed
			json.Unmarshal([]byte(body), &put)
			tx := `{"writes":[{"id":"` + put.ID.String() + `","value":"defaced"}]}`
			before := stateOf(t, n, heap)
			type req struct {
				method, path, ct, body string
				hdr                    []string
				want                   int
			}
			cases := []req{
				{"GET", "/v1/heaps/" + heap + "/roots/r", "", "", []string{"Host", "attacker.example:" + port}, 403},
				{"DELETE", "/v1/heaps/" + heap, "application/json", "", []string{"Host", "attacker.example"}, 403},
				{"GET", "/v1/heaps/" + heap + "/roots/r", "", "", []string{"Origin", "http://attacker.example"}, 403},
				{"POST", "/v1/heaps/" + heap + "/tx", "application/json", tx, []string{"Origin", "null"}, 403},
				{"POST", "/v1/heaps/" + heap + "/tx", "application/json", tx, []string{"Origin", "http://127.0.0.1:1"}, 403},
				{"GET", "/v1/heaps/" + heap + "/roots/r", "", "", []string{"Sec-Fetch-Site", "cross-site"}, 403},
				{"GET", "/v1/heaps/" + heap + "/roots/r", "", "", []string{"Sec-Fetch-Site", "same-site"}, 403},
				{"POST", "/v1/heaps/" + heap + "/tx", "text/plain", tx, nil, 415},
				{"POST", "/v1/heaps/" + heap + "/tx", "application/x-www-form-urlencoded", tx, nil, 415},
				{"POST", "/v1/heaps/" + heap + "/tx", "", tx, nil, 415},
				{"PUT", "/v1/heaps/" + heap + "/roots/r", "text/plain", `"defaced"`, nil, 415},
				{"DELETE", "/v1/heaps/" + heap, "", "", nil, 415},
				{"DELETE", "/v1/heaps/" + heap, "text/plain", "", nil, 415},
			}
			if mode == "insecure" {
				// Only loopback, and only this listener's port.
				cases = append(cases,
					req{"GET", "/v1/heaps", "", "", []string{"Host", "192.0.2.1:" + port}, 403},
					req{"GET", "/v1/heaps", "", "", []string{"Host", "127.0.0.1:1"}, 403},
				)
			}
			for _, c := range cases {
				code, body, err := request(t, hc, c.method, url+c.path, c.ct, strings.NewReader(c.body), c.hdr...)
				if err != nil || code != c.want || !strings.Contains(body, `"error"`) {
					t.Errorf("%s %s (%s %v): %d %s %v, want %d", c.method, c.path, c.ct, c.hdr, code, body, err, c.want)
				}
			}
			if st := stateOf(t, n, heap); st != before {
				t.Fatalf("refused requests changed the heap")
			}
			// What a program sends passes: the same origin, localhost, the
			// custom header instead of a JSON type.
			for _, c := range []req{
				{"GET", "/v1/heaps/" + heap + "/roots/r", "", "", []string{"Origin", strings.TrimSuffix(url, "/")}, 200},
				{"GET", "/v1/heaps/" + heap + "/roots/r", "", "", []string{"Host", "localhost:" + port, "Sec-Fetch-Site", "same-origin"}, 200},
				{"POST", "/v1/heaps/" + heap + "/tx", "application/json; charset=utf-8", tx, nil, 200},
				{"DELETE", "/v1/heaps/" + heap, "", "", []string{admin.RequestHeader, "1"}, 200},
			} {
				code, body, err := request(t, hc, c.method, url+c.path, c.ct, strings.NewReader(c.body), c.hdr...)
				if err != nil || code != c.want {
					t.Errorf("%s %s (%s %v): %d %s %v, want %d", c.method, c.path, c.ct, c.hdr, code, body, err, c.want)
				}
			}
		})
	}
}

// countingReader yields n bytes of a JSON string's inside, counting what
// is read.
type countingReader struct {
	n    int64
	read atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	left := r.n - r.read.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), left))
	for i := range k {
		p[i] = 'a'
	}
	r.read.Add(int64(k))
	return k, nil
}

// TestBodyLimit: issue 14, row 7. A 100 MB body on POST /tx was read
// whole (RSS 45 MB -> 562 MB). A body over the limit is answered 413, the
// handler reading no more than the limit, whether its length is declared
// or not.
func TestBodyLimit(t *testing.T) {
	n := startNode(t)
	const limit = 1 << 20
	hd, err := admin.NewHandler(n, &admin.Options{Insecure: true, MaxBodyBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path string, body io.Reader, length int64) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, body)
		req.Host = admin.DefaultAddr
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("PUT", "/v1/heaps/b/roots/r", strings.NewReader(`1`), 1); rec.Code != http.StatusOK {
		t.Fatalf("seed: %d %s", rec.Code, rec.Body)
	}
	before := stateOf(t, n, "b")
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	for _, tc := range []struct {
		method, path string
		length       int64 // -1: not declared (chunked)
		maxRead      int64
	}{
		{"POST", "/v1/heaps/b/tx", 100 << 20, 0},
		{"POST", "/v1/heaps/b/tx", -1, limit + 1},
		{"PUT", "/v1/heaps/b/roots/r", 100 << 20, 0},
		{"PUT", "/v1/heaps/b/roots/r", -1, limit + 1},
		// Endpoints without a body take at most 64 KiB of one.
		{"GET", "/v1/heaps/b/digest", 100 << 20, 0},
		{"DELETE", "/v1/heaps/b", 1 << 20, 0},
	} {
		body := &countingReader{n: 100 << 20}
		rec := do(tc.method, tc.path, body, tc.length)
		if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "limit") {
			t.Errorf("%s %s of 100 MB (length %d): %d %s", tc.method, tc.path, tc.length, rec.Code, rec.Body)
		}
		if got := body.read.Load(); got > tc.maxRead {
			t.Errorf("%s %s (length %d): the handler read %d bytes, the limit is %d", tc.method, tc.path, tc.length, got, limit)
		}
	}
	runtime.ReadMemStats(&ms1)
	if grew := ms1.TotalAlloc - ms0.TotalAlloc; grew > 32<<20 {
		t.Errorf("refusing 600 MB of bodies allocated %d MiB", grew>>20)
	}
	if st := stateOf(t, n, "b"); st != before {
		t.Fatal("refused bodies changed the heap")
	}
	// A body under the limit is fine.
	val := `"` + strings.Repeat("a", limit-100) + `"`
	if rec := do("PUT", "/v1/heaps/b/roots/r", strings.NewReader(val), int64(len(val))); rec.Code != http.StatusOK {
		t.Errorf("a body under the limit: %d %s", rec.Code, rec.Body)
	}

	// Through a TLS listener the client gets the 413 and its message.
	p := newPKI(t)
	o := p.serverOptions(t)
	o.MaxBodyBytes = limit
	srv := serve(t, n, o)
	_, err = p.client(t, srv, "admin").PutRoot(context.Background(), "b", "r", strings.Repeat("a", 2*limit))
	var se *admin.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusRequestEntityTooLarge || !strings.Contains(se.Message, "--http-max-body") {
		t.Errorf("a 2 MiB body through TLS: %v", err)
	}
}

// TestDeepValueRefused: issue 14, row 8. A value nested 40 deep was
// written (200) and then every GET of it failed with 500 ("exceeded max
// nested level 32"), after a restart too. A value nested deeper than the
// heap's decoder reads back is refused with 400 and nothing is written;
// one at the limit reads back.
func TestDeepValueRefused(t *testing.T) {
	ctx := context.Background()
	n := startNode(t)
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	put, err := c.PutRoot(ctx, "deep", "r", "shallow")
	if err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, n, "deep")
	arrays := func(d int) json.RawMessage {
		return json.RawMessage(strings.Repeat("[", d) + strings.Repeat("]", d))
	}
	objects := func(d int) json.RawMessage {
		return json.RawMessage(strings.Repeat(`{"a":`, d) + "1" + strings.Repeat("}", d))
	}
	for _, d := range []int{admin.MaxDepth + 1, 40, 1000} {
		for _, v := range []json.RawMessage{arrays(d), objects(d)} {
			_, err := c.PutRoot(ctx, "deep", "r", v)
			var se *admin.StatusError
			if !errors.As(err, &se) || se.Code != http.StatusBadRequest || !strings.Contains(se.Message, "nested deeper than 32") {
				t.Errorf("PUT of a value nested %d deep: %v", d, err)
			}
			_, err = c.Commit(ctx, "deep", &admin.Txn{Writes: []admin.Write{{ID: put.ID, Value: v}}})
			if !errors.As(err, &se) || se.Code != http.StatusBadRequest || !strings.Contains(se.Message, "nested deeper than 32") {
				t.Errorf("a transaction of a value nested %d deep: %v", d, err)
			}
		}
	}
	if st := stateOf(t, n, "deep"); st != before {
		t.Fatal("refused values changed the heap")
	}
	for _, v := range []json.RawMessage{arrays(admin.MaxDepth), objects(admin.MaxDepth)} {
		if _, err := c.PutRoot(ctx, "deep", "r", v); err != nil {
			t.Fatalf("a value nested %d deep: %v", admin.MaxDepth, err)
		}
		o, err := c.Root(ctx, "deep", "r", true)
		if err != nil {
			t.Fatalf("reading back a value nested %d deep: %v", admin.MaxDepth, err)
		}
		got, _ := json.Marshal(o.Value)
		if !bytes.Equal(got, v) {
			t.Fatalf("wrote %s, read back %s", v, got)
		}
	}
}

// TestInvalidNameRefusedAtOnce: issue 14, row 9. A root named with invalid
// UTF-8 (%FF) hung 10 s, then 504 "outcome unknown", although nothing
// committed. Names are checked before anything is opened, created or
// committed: 400, the heap's index where it was, no heap created.
func TestInvalidNameRefusedAtOnce(t *testing.T) {
	n := startNode(t)
	hd, err := admin.NewHandler(n, &admin.Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Host = admin.DefaultAddr
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		hd.ServeHTTP(rec, req)
		return rec
	}
	rec := do("PUT", "/v1/heaps/names/roots/ok", `1`)
	if rec.Code != http.StatusOK {
		t.Fatalf("seed: %d %s", rec.Code, rec.Body)
	}
	var put admin.Committed
	json.Unmarshal(rec.Body.Bytes(), &put)
	before := stateOf(t, n, "names")
	for _, tc := range []struct{ method, path, body string }{
		{"PUT", "/v1/heaps/names/roots/%FF", `1`},
		{"PUT", "/v1/heaps/names/roots/a%C3%28", `1`},
		{"GET", "/v1/heaps/names/roots/%FF", ``},
		// A new heap is not created for a root it refuses.
		{"PUT", "/v1/heaps/fresh/roots/%FF", `1`},
		{"PUT", "/v1/heaps/fresh/roots/ok", `1e400`},
		{"PUT", "/v1/heaps/%FF/roots/ok", `1`},
		{"PUT", "/v1/heaps/%FF", ``},
		{"DELETE", "/v1/heaps/%FF", ``},
		{"POST", "/v1/heaps/names/tx", "{\"roots\":{\"\xff\":\"" + put.ID.String() + "\"}}"},
		{"POST", "/v1/heaps/names/tx", `{"roots":{"\udcff":"` + put.ID.String() + `"}}`},
		{"POST", "/v1/heaps/names/tx", `{"roots":{"":"` + put.ID.String() + `"}}`},
	} {
		rec := do(tc.method, tc.path, tc.body)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s %s %q: %d %s", tc.method, tc.path, tc.body, rec.Code, rec.Body)
		}
	}
	if st := stateOf(t, n, "names"); st != before {
		t.Fatalf("refused names moved the heap: %+v, was %+v", st, before)
	}
	for _, h := range n.Heaps() {
		if h.Name != "names" {
			t.Errorf("a refused request created the heap %q", h.Name)
		}
	}
}

// TestValuesReadBack: issue 14, row 10. Trailing data after the value,
// 2^64 and 1e400 were accepted; 2^64 silently rounded, 1e400 read back as
// the string "+Inf". A value is written only if it reads back as sent.
func TestValuesReadBack(t *testing.T) {
	ctx := context.Background()
	n := startNode(t)
	p := newPKI(t)
	srv := serve(t, n, p.serverOptions(t))
	c := p.client(t, srv, "admin")
	put, err := c.PutRoot(ctx, "vals", "r", "first")
	if err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, n, "vals")
	hc := tlsClient(t, p.tlsConfig(t, "admin"))
	for _, v := range []string{
		`1 2`, `[1] x`, `{} {}`, `"a" "b"`, `1,`, ``, ` `,
		`18446744073709551616`, `-9223372036854775809`, `100000000000000000000000`,
		`1e400`, `-1e400`, `1.8e308`,
		`NaN`, `Infinity`, `-Infinity`, `+1`, `01`, `1.`, `.5`, `0x10`,
		"\"\xff\"", "{\"\xff\":1}", `"\ud800"`, `"\udc00\ud800"`, `{"\ud800":1}`, "\"a\x01\"",
		`{"a":1,"a":2}`, `[1,]`, `{"a"}`, `nul`, `'x'`,
	} {
		code, body, err := request(t, hc, "PUT", srv.URL()+"/v1/heaps/vals/roots/r", "application/json", strings.NewReader(v))
		if err != nil || code != http.StatusBadRequest {
			t.Errorf("PUT of %q: %d %s %v", v, code, body, err)
		}
		tx := `{"writes":[{"id":"` + put.ID.String() + `","value":` + v + `}]}`
		code, body, err = request(t, hc, "POST", srv.URL()+"/v1/heaps/vals/tx", "application/json", strings.NewReader(tx))
		if err != nil || code != http.StatusBadRequest {
			t.Errorf("a transaction writing %q: %d %s %v", v, code, body, err)
		}
	}
	// Trailing data after a transaction, and fields it does not have.
	for _, tx := range []string{
		`{"writes":[{"id":"` + put.ID.String() + `","value":1}]} {}`,
		`{"writes":[{"id":"` + put.ID.String() + `","value":1}]}x`,
		`{"writez":[{"id":"` + put.ID.String() + `","value":1}]}`,
	} {
		code, body, err := request(t, hc, "POST", srv.URL()+"/v1/heaps/vals/tx", "application/json", strings.NewReader(tx))
		if err != nil || code != http.StatusBadRequest {
			t.Errorf("transaction %q: %d %s %v", tx, code, body, err)
		}
	}
	if st := stateOf(t, n, "vals"); st != before {
		t.Fatalf("refused values changed the heap")
	}
	// What is accepted reads back as sent.
	for _, tc := range []struct{ in, out string }{
		{`18446744073709551615`, `18446744073709551615`},
		{`-9223372036854775808`, `-9223372036854775808`},
		{`9007199254740993`, `9007199254740993`}, // not a float64
		{`1.5e300`, `1.5e+300`},
		{`1e-400`, `0`}, // below the smallest float64: rounded, as JSON does
		{`2.5`, `2.5`},
		{`18017000000000010.0`, `1.801700000000001e+16`}, // a float beyond 2^53 reads back as a float, not as another integer
		{`"\ud83d\ude00 \u00e9\n"`, `"😀 é\n"`},
		{" [1, {\"b\": true, \"a\": null}] \n", `[1,{"a":null,"b":true}]`},
	} {
		code, body, err := request(t, hc, "PUT", srv.URL()+"/v1/heaps/vals/roots/ok", "application/json", strings.NewReader(tc.in))
		if err != nil || code != http.StatusOK {
			t.Fatalf("PUT of %q: %d %s %v", tc.in, code, body, err)
		}
		code, body, err = request(t, hc, "GET", srv.URL()+"/v1/heaps/vals/roots/ok", "", nil)
		var o struct{ Value json.RawMessage }
		if err != nil || code != http.StatusOK || json.Unmarshal([]byte(body), &o) != nil {
			t.Fatalf("GET after %q: %d %s %v", tc.in, code, body, err)
		}
		var compact bytes.Buffer
		json.Compact(&compact, o.Value)
		if compact.String() != tc.out {
			t.Errorf("wrote %s, read back %s, want %s", tc.in, compact.String(), tc.out)
		}
	}
}

// TestSlowClientsCut: issue 14, row 11. A body sent at 1 byte/s held its
// connection without limit. The server ends a request that is not read
// within its read timeout, headers or body, and an idle connection.
func TestSlowClientsCut(t *testing.T) {
	n := startNode(t)
	p := newPKI(t)
	for _, mode := range []string{"insecure", "tls"} {
		t.Run(mode, func(t *testing.T) {
			o := &admin.Options{Addr: "127.0.0.1:0", Insecure: true}
			if mode == "tls" {
				o = p.serverOptions(t)
			}
			// Long enough for a TLS handshake at load 30 (its bound is
			// the read timeout: at 300 ms, tls.Dial met EOF there), short
			// against the minute a held connection is given below.
			o.ReadTimeout = 2 * time.Second
			o.IdleTimeout = 2 * time.Second
			srv := serve(t, n, o)
			dial := func() net.Conn {
				if mode == "tls" {
					// The handshake is bound by the read timeout too: at
					// load 40 it can run out of its 2 s, and the server
					// ends the connection. Dial again, as a client would.
					deadline := time.Now().Add(5 * time.Minute) // a bound against a hang
					for {
						c, err := tls.Dial("tcp", srv.Addr(), p.tlsConfig(t, "admin"))
						if err == nil {
							return c
						}
						if time.Now().After(deadline) {
							t.Fatal(err)
						}
					}
				}
				c, err := net.Dial("tcp", srv.Addr())
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			// closed waits until the server ends the connection, which a
			// slow writer keeps feeding a byte at a time.
			closed := func(what string, c net.Conn, feed bool) {
				t.Helper()
				defer c.Close()
				stop := make(chan struct{})
				defer close(stop)
				if feed {
					go func() {
						for {
							select {
							case <-stop:
								return
							case <-time.After(50 * time.Millisecond):
							}
							if _, err := c.Write([]byte("a")); err != nil {
								return
							}
						}
					}()
				}
				c.SetReadDeadline(time.Now().Add(60 * time.Second)) // generous: the server's bound is 2 s
				_, err := io.Copy(io.Discard, c)
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Errorf("%s: the server held the connection for a minute", what)
				}
			}
			hdr := "PUT /v1/heaps/slow/roots/r HTTP/1.1\r\nHost: " + srv.Addr() + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n\""
			c := dial()
			io.WriteString(c, hdr)
			closed("a body at 20 bytes/s", c, true)
			c = dial()
			io.WriteString(c, "GET /v1/heaps HTTP/1.1\r\nHost: "+srv.Addr()+"\r\nX-Slow: ")
			closed("headers at 20 bytes/s", c, true)
			// A request before idling, asked again if the server ended
			// its connection first (its 2 s can run out at load 40).
			deadline := time.Now().Add(5 * time.Minute) // a bound against a hang
			for {
				c = dial()
				io.WriteString(c, "GET /v1/heaps HTTP/1.1\r\nHost: "+srv.Addr()+"\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err == nil && resp.StatusCode == http.StatusOK {
					resp.Body.Close()
					break
				}
				c.Close()
				if err == nil || time.Now().After(deadline) {
					t.Fatalf("a request before idling: %v %v", resp, err)
				}
			}
			closed("an idle connection", c, false)
		})
	}
}

// TestClientCertificates: the client's errors say what to do, and it
// refuses a node whose certificate is not a node's of the cluster's CA.
func TestClientCertificates(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	if _, err := admin.NewClient("127.0.0.1:1", &admin.ClientOptions{CertDir: dir}); err == nil || !strings.Contains(err.Error(), "no CA certificate") {
		t.Errorf("no ca.crt: %v", err)
	}
	_, err := admin.NewClient("127.0.0.1:1", &admin.ClientOptions{CertDir: p.dir, Name: "bob"})
	if err == nil || !strings.Contains(err.Error(), "issue one with `ossd cert issue --dir "+p.dir+" --name bob --role admin`") {
		t.Errorf("no bob.crt: %v", err)
	}
	n := startNode(t)
	// A listener presenting an admin certificate, or one of another CA, is
	// not a node of this cluster.
	other := newPKI(t)
	for _, tc := range []struct {
		name       string
		ca, crt, k []byte
	}{
		{"an admin certificate", p.read(t, "ca.crt"), p.read(t, "admin.crt"), p.read(t, "admin.key")},
		{"another CA's node", other.read(t, "ca.crt"), other.read(t, "n1.crt"), other.read(t, "n1.key")},
	} {
		srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", CAPEM: tc.ca, CertPEM: tc.crt, KeyPEM: tc.k})
		_, err := p.client(t, srv, "admin").Heaps(context.Background())
		if err == nil {
			t.Errorf("the client trusted a listener with %s", tc.name)
		}
	}
	// A client of the wrong scheme says which one the node speaks.
	insecure := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if _, err := p.client(t, insecure, "admin").Heaps(context.Background()); err == nil || !strings.Contains(err.Error(), "--http-insecure") {
		t.Errorf("HTTPS to an insecure node: %v", err)
	}
	tlsSrv := serve(t, n, p.serverOptions(t))
	plain, err := admin.NewClient(tlsSrv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Heaps(context.Background()); err == nil || !strings.Contains(err.Error(), "serves HTTPS") {
		t.Errorf("plain HTTP to a TLS node: %v", err)
	}
	// A refused certificate says so.
	srv := serve(t, n, p.serverOptions(t))
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{CertDir: other.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Heaps(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a certificate of another CA: %v", err)
	}
}
