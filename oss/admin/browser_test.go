package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/objectsharing/oss/oss/admin"
)

// chromium finds a Chromium or Chrome binary; it fails the test, never
// skips it, when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium to run the browser test: install it with `apt-get install -y chromium` (make test does, through .ci/browser-deps)")
	return ""
}

// attackPage is a page of another origin that tries everything a web page
// can send to the admin interface on loopback without its user noticing:
// reads with fetch and XMLHttpRequest, writes with fetch (JSON, which
// needs a CORS preflight, and text/plain, which does not), no-cors
// requests, a beacon, and forms posted into a hidden frame (one of them
// text/plain, whose body can be made JSON). runAttacks resolves to what
// each attempt could read.
var attackPage = template.Must(template.New("").Parse(`<!doctype html>
<html><body>
<iframe name="sink" id="sink"></iframe>
<form id="f1" method="POST" enctype="text/plain" target="sink" action="{{.Target}}/v1/heaps/victim/tx">
<input name='{"writes":[{"id":"{{.ID}}","value":"defaced-form"}],"x":"' value='"}'>
</form>
<form id="f2" method="POST" target="sink" action="{{.Target}}/v1/heaps/victim/tx">
<input name="writes" value="defaced">
</form>
<script>
const target = {{.Target}};
const tx = JSON.stringify({writes: [{id: {{.ID}}, value: "defaced-fetch"}]});
async function attempt(name, fn) {
  try {
    const r = await Promise.race([fn(), new Promise((_, no) => setTimeout(() => no(new Error("timeout")), 5000))]);
    return {name, ok: true, text: String(r)};
  } catch (e) {
    return {name, ok: false, text: String(e)};
  }
}
async function read(resp) { return resp.status + " " + resp.type + " " + await resp.text(); }
function xhr(method, url, ct, body) {
  return new Promise((ok, no) => {
    const x = new XMLHttpRequest();
    x.open(method, url);
    x.withCredentials = true;
    if (ct) x.setRequestHeader("Content-Type", ct);
    x.onload = () => ok(x.status + " " + x.responseText);
    x.onerror = () => no(new Error("xhr error"));
    x.send(body);
  });
}
function post(form) {
  return new Promise((ok) => {
    const sink = document.getElementById("sink");
    sink.onload = () => { let t = "unreadable"; try { t = sink.contentDocument.body.innerText; } catch (e) {} ok(t); };
    setTimeout(() => ok("no load"), 4000);
    document.getElementById(form).submit();
  });
}
window.runAttacks = async function () {
  const results = [];
  const root = target + "/v1/heaps/victim/roots/secret";
  results.push(await attempt("fetch GET", async () => read(await fetch(root, {credentials: "include"}))));
  results.push(await attempt("fetch GET no-cors", async () => read(await fetch(root, {mode: "no-cors", credentials: "include"}))));
  results.push(await attempt("xhr GET", () => xhr("GET", root)));
  results.push(await attempt("fetch POST text/plain", async () => read(await fetch(target + "/v1/heaps/victim/tx", {method: "POST", body: tx, headers: {"Content-Type": "text/plain"}, credentials: "include"}))));
  results.push(await attempt("fetch POST text/plain no-cors", async () => read(await fetch(target + "/v1/heaps/victim/tx", {method: "POST", mode: "no-cors", body: tx, headers: {"Content-Type": "text/plain"}, credentials: "include"}))));
  results.push(await attempt("fetch POST JSON", async () => read(await fetch(target + "/v1/heaps/victim/tx", {method: "POST", body: tx, headers: {"Content-Type": "application/json"}}))));
  results.push(await attempt("fetch PUT JSON", async () => read(await fetch(root, {method: "PUT", body: '"defaced-put"', headers: {"Content-Type": "application/json"}}))));
  results.push(await attempt("fetch PUT no-cors", async () => read(await fetch(root, {method: "PUT", mode: "no-cors", body: '"defaced-put"'}))));
  results.push(await attempt("fetch PUT heap", async () => read(await fetch(target + "/v1/heaps/evil", {method: "PUT"}))));
  results.push(await attempt("fetch DELETE", async () => read(await fetch(target + "/v1/heaps/victim", {method: "DELETE", headers: {"X-Oss-Admin": "1"}}))));
  results.push(await attempt("xhr POST text/plain", () => xhr("POST", target + "/v1/heaps/victim/tx", "text/plain", tx)));
  results.push(await attempt("beacon", async () => navigator.sendBeacon(target + "/v1/heaps/victim/tx", new Blob([tx], {type: "text/plain"}))));
  results.push(await attempt("form text/plain", () => post("f1")));
  results.push(await attempt("form urlencoded", () => post("f2")));
  return JSON.stringify(results);
};
</script>
</body></html>`))

type attempt struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	Text string `json:"text"`
}

// attack serves the attack page from origin (host:0) aimed at target and
// id, opens it in the browser, and returns what each attempt read.
func attack(t *testing.T, bctx context.Context, origin, target, id string) []attempt {
	t.Helper()
	ln, err := net.Listen("tcp", origin)
	if err != nil {
		t.Fatalf("the attacker's origin %s: %v", origin, err)
	}
	page := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		attackPage.Execute(w, map[string]string{"Target": target, "ID": id})
	})}
	go page.Serve(ln)
	defer page.Close()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+ln.Addr().String()+"/")); err != nil {
		t.Fatalf("the attack page in Chromium: %v", err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.runAttacks()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("the attack page in Chromium: %v", err)
	}
	var res []attempt
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("the attack page's results %q: %v", out, err)
	}
	for _, r := range res {
		t.Logf("%-30s ok=%-5v %.120s", r.Name, r.OK, r.Text)
	}
	return res
}

// TestBrowserCannotReachAdmin: a web page of another origin, in headless
// Chromium, can neither read nor change a heap through the admin
// interface of a node on loopback: not the insecure listener (plain HTTP,
// no certificates, the most exposed), nor the TLS one. A control run
// against a server that accepts anything shows the page's requests do
// reach a loopback server, so the browser is not what stops them.
func TestBrowserCannotReachAdmin(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	n := startNode(t)
	p := newPKI(t)

	opts := browserOptions(t, exe,
		chromedp.Flag("ignore-certificate-errors", true), // the worst case: a user who accepted the node's certificate
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	defer chromedp.Cancel(bctx)

	// The control: a loopback server that accepts anything, answers the
	// secret, and records what reaches it.
	var mu sync.Mutex
	var seen []string
	ctl := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+string(b))
		mu.Unlock()
		io.WriteString(w, "s3cret-value")
	})}
	cln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ctl.Serve(cln)
	defer ctl.Close()
	attack(t, bctx, "127.0.0.2:0", "http://"+cln.Addr().String(), "00000000-0000-0000-0000-000000000001")
	delivered := func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range seen {
			if strings.HasPrefix(s, "POST /v1/heaps/victim/tx") && strings.Contains(s, "defaced") {
				n++
			}
		}
		return n >= 2
	}
	for deadline := time.Now().Add(2 * time.Minute); !delivered() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if !delivered() {
		t.Fatalf("the control server did not receive the page's writes: the test would test nothing; it saw %q", seen)
	}

	for _, mode := range []string{"insecure", "tls"} {
		t.Run(mode, func(t *testing.T) {
			var srv *admin.Server
			var c *admin.Client
			if mode == "insecure" {
				srv = serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
				var err error
				if c, err = admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true}); err != nil {
					t.Fatal(err)
				}
				defer c.Close()
			} else {
				srv = serve(t, n, p.serverOptions(t))
				c = p.client(t, srv, "admin")
			}
			ctx := context.Background()
			put, err := c.PutRoot(ctx, "victim", "secret", "s3cret-value")
			if err != nil {
				t.Fatal(err)
			}
			before := stateOf(t, n, "victim")
			heaps := fmt.Sprint(n.Heaps())
			// From another loopback address, and from another port of the
			// same one.
			for _, origin := range []string{"127.0.0.2:0", "127.0.0.1:0"} {
				for _, r := range attack(t, bctx, origin, srv.URL(), put.ID.String()) {
					if strings.Contains(r.Text, "s3cret-value") {
						t.Errorf("from %s, %q read the secret: %s", origin, r.Name, r.Text)
					}
				}
			}
			time.Sleep(time.Second) // a beacon may arrive after the page is done
			if st := stateOf(t, n, "victim"); st != before {
				t.Errorf("the page changed the heap: %+v, was %+v", st, before)
			}
			if h := fmt.Sprint(n.Heaps()); h != heaps {
				t.Errorf("the page changed the heap directory: %s, was %s", h, heaps)
			}
			o, err := c.Root(ctx, "victim", "secret", true)
			if err != nil || o.Value != "s3cret-value" {
				t.Errorf("the secret after the attack: %+v %v", o, err)
			}
			if err := c.DropHeap(ctx, "victim"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
