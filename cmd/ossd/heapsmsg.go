package main

import (
	"context"
	"fmt"
	"io"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/pki"
)

// printCreated says what "heaps create" made: the voters the heap has and,
// when the cluster has too few servers for the voters it asked for, that
// it runs with fewer until more join. It used to say nothing, and
// "--replicas 5" on three nodes looked like five voters.
func printCreated(ctx context.Context, w io.Writer, c *admin.Client, heap string) error {
	st, err := c.Status(ctx)
	if err != nil {
		// Created all the same: say so, and why there is no more.
		_, err := fmt.Fprintf(w, "created heap %q (its voters are unknown: %v)\n", heap, err)
		return err
	}
	servers := 0
	for _, m := range st.Members {
		if m.Role == pki.RoleServer {
			servers++
		}
	}
	var hs oss.HeapStatus
	for _, h := range st.Heaps {
		if h.Name == heap {
			hs = h
		}
	}
	placed := placedVoters(hs.Replicas, servers)
	if placed >= hs.Replicas {
		_, err = fmt.Fprintf(w, "created heap %q: %s\n", heap, count(hs.Replicas, "voter"))
		return err
	}
	_, err = fmt.Fprintf(w, "created heap %q: %s wanted, %d for now: a heap has at most one voter a live server, an odd number of them, and the cluster has %s; it gains voters as servers join\n",
		heap, count(hs.Replicas, "voter"), placed, count(servers, "server"))
	return err
}

// placedVoters is the number of voters a heap that wants replicas has on
// servers live servers: at most that many, rounded down to an odd number
// (docs/design.md, "Placement and reconciliation").
func placedVoters(replicas, servers int) int {
	n := min(replicas, servers)
	if n > 0 && n%2 == 0 {
		n--
	}
	return n
}

// count returns n and the noun, in the plural unless n is 1.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
