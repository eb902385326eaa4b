package admin_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/objectsharing/oss/oss/admin"
)

// lockedBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// An insecure admin interface says at start, as a WARN, that it serves
// without authentication; it said nothing beyond its http:// URL, so an
// operator who left --http-insecure on a shared host had no line in the
// log to find it by. A TLS interface on loopback logs no such warning.
func TestInsecureAdminWarns(t *testing.T) {
	n := startNode(t)
	p := newPKI(t)
	for _, c := range []struct {
		opts *admin.Options
		warn bool
	}{{&admin.Options{Addr: "127.0.0.1:0", Insecure: true}, true}, {p.serverOptions(t), false}} {
		var logs lockedBuffer
		c.opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		serve(t, n, c.opts)
		warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "without authentication")
		if warned != c.warn {
			t.Errorf("insecure %v: warned %v, want %v; logged:\n%s", c.opts.Insecure, warned, c.warn, logs.String())
		}
	}
}
