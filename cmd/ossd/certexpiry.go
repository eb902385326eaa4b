package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// printExpiring prints the certificates the status lists as expiring
// soon (oss.ClusterStatus.Expiring), each with what renews it; until
// 2026-12-06 only the node's own log said so, and the status of a node
// whose certificate had seconds left showed nothing amiss.
func printExpiring(w io.Writer, st *oss.ClusterStatus, now time.Time) {
	for _, e := range st.Expiring {
		when := e.Expires.UTC().Format(time.RFC3339)
		if left := e.Expires.Sub(now); left > 0 {
			fmt.Fprintf(w, "expiring: the certificate of %s (serial %s) expires at %s, in %s; then its peers refuse it: issue it a new one (ossd cert issue --name %s --force) and reload it (SIGHUP)\n",
				e.Node, e.Serial, when, roughly(left), e.Node)
		} else {
			fmt.Fprintf(w, "expired: the certificate of %s (serial %s) expired at %s: its peers refuse it; issue it a new one (ossd cert issue --name %s --force) and reload it (SIGHUP)\n",
				e.Node, e.Serial, when, e.Node)
		}
	}
}

// roughly is a duration as an operator reads it: days and hours, hours
// and minutes, or seconds.
func roughly(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return d.Truncate(time.Minute).String()
	default:
		return d.Round(time.Second).String()
	}
}

// warnExpiringUserCert writes a warning to w if the certificate of the
// user in dir (dir/user.crt, what the CLI's --certs and --user name)
// expires within the period a node warns of its own by (30 days, or a
// tenth of its validity if that is shorter): the nodes refuse it from
// then on. Nothing told an operator before, and the first word was the
// refusal. Nothing is written of a file that does not parse (whoever
// reads it reports that) or a certificate expired already (the node's
// refusal names it).
func warnExpiringUserCert(w io.Writer, dir, user string, now time.Time) {
	b, err := os.ReadFile(filepath.Join(dir, user+".crt"))
	if err != nil {
		return
	}
	info, err := pki.Inspect(b)
	if err != nil {
		return
	}
	ahead := min(30*24*time.Hour, info.NotAfter.Sub(info.NotBefore)/10)
	if left := info.NotAfter.Sub(now); left > 0 && left < ahead {
		fmt.Fprintf(w, "ossd: warning: the certificate %s of %q (serial %s) expires at %s, in %s: the nodes refuse it from then on; issue a new one (ossd cert issue --dir CA-DIR --name %s --force) and put it in %s\n",
			filepath.Join(dir, user+".crt"), info.Name, info.Serial.Text(16), info.NotAfter.UTC().Format(time.RFC3339), roughly(left), user, dir)
	}
}
