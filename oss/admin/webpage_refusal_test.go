package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/admin"
)

// A request a foreign web page makes is refused with a reason that holds:
// the interface does serve a web page, its dashboard, and the refusal
// names it as the one page that may call it, where it said before that
// the interface served none.
func TestForeignPageRefusalNamesTheDashboard(t *testing.T) {
	n := startNode(t)
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	hc := &http.Client{Timeout: 10 * time.Second}
	dashboard := "http://" + srv.Addr() + "/ui"
	for _, hdr := range [][]string{
		{"Origin", "http://attacker.example"},
		{"Sec-Fetch-Site", "cross-site"},
	} {
		code, body, err := request(t, hc, "GET", srv.URL()+"/v1/heaps", "", strings.NewReader(""), hdr...)
		if err != nil || code != http.StatusForbidden {
			t.Fatalf("%v: %d %s %v, want 403", hdr, code, body, err)
		}
		if strings.Contains(body, "serves no web pages") || !strings.Contains(body, dashboard) {
			t.Errorf("%v: refused with %s, want the reason to name the dashboard %s", hdr, body, dashboard)
		}
	}
}
