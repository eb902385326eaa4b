package main

import (
	"fmt"
	"io"
	"time"

	"github.com/objectsharing/oss/oss"
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
