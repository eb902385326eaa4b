package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/objectsharing/oss/oss"
)

// printShort says of each heap of st below its replication factor
// (oss.HeapStatus.Short) the voters it has, the voters it wants, and
// why: too few of its voters are live for a quorum, too few servers are
// live, or a live server is yet to take a missing place. A heap created
// with 5 replicas on 3 servers, or one of 3 on a cluster that lost a
// server for good, showed its voters and nothing saying it kept fewer
// than asked. A node whose certificate is revoked prints none: its view
// is not to be trusted (printAbsent says so, "cut off" or "revoked"),
// and it told every heap to start more servers.
func printShort(w io.Writer, st *oss.ClusterStatus) {
	if st.Revoked != "" {
		return
	}
	for _, h := range st.Heaps {
		s := h.Short
		if s == nil {
			continue
		}
		has := voters(s.Live)
		if s.Live != s.Voters {
			has = fmt.Sprintf("%d live %s (of %d: %s down)", s.Live, plural(s.Live, "voter"), s.Voters, strings.Join(s.Down, ", "))
		}
		switch s.Why {
		case oss.NoReplicaAnswered:
			fmt.Fprintf(w, "short: heap %s has no replica that answered (it wants %d %s; %d servers live): its voters are down or not answering: bring one back\n",
				h.Name, s.Wants, plural(s.Wants, "voter"), s.Servers)
		case oss.QuorumLost:
			fmt.Fprintf(w, "short: heap %s has %s of the %d it wants: no quorum (%d servers live): it has no leader, and only a leader replaces a voter: bring a down voter back\n",
				h.Name, has, s.Wants, s.Servers)
		case oss.ShortOfServers:
			fmt.Fprintf(w, "short: heap %s has %s of the %d it wants: not enough servers (%d live; a heap keeps at most one voter on each): start more servers\n",
				h.Name, has, s.Wants, s.Servers)
		default:
			fmt.Fprintf(w, "short: heap %s has %s of the %d it wants: %s (%d servers live): a live server takes each missing place, a down voter's once it has been gone --replace-after\n",
				h.Name, has, s.Wants, s.Why, s.Servers)
		}
	}
}

// voters says n voters, in the singular or the plural.
func voters(n int) string { return fmt.Sprintf("%d %s", n, plural(n, "voter")) }

// plural is word, with an s unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
