package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

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
	_, err = fmt.Fprintln(w, createdMessage(heap, hs.Replicas, servers))
	return err
}

// createdMessage says how many voters a heap that wants replicas has on
// servers live servers, and how many it will have. An even number of
// replicas is rounded down for good (a group of two loses its quorum
// with either voter): "--replicas 2" used to read "1 for now ... it gains
// voters as servers join", which it never does.
func createdMessage(heap string, replicas, servers int) string {
	placed, most := placedVoters(replicas, servers), placedVoters(replicas, replicas)
	switch {
	case placed >= replicas:
		return fmt.Sprintf("created heap %q: %s", heap, count(replicas, "voter"))
	case placed == most:
		return fmt.Sprintf("created heap %q: %s wanted, %d kept: a heap has an odd number of voters, so an even number rounds down (%d survive the loss of %d: heaps create --replicas %d)",
			heap, count(replicas, "voter"), most, replicas+1, replicas/2, replicas+1)
	}
	msg := fmt.Sprintf("created heap %q: %s wanted, %d for now: a heap has at most one voter a live server, an odd number of them, and the cluster has %s; it gains voters as servers join",
		heap, count(replicas, "voter"), placed, count(servers, "server"))
	if most < replicas {
		msg += fmt.Sprintf(", up to %d (an even number rounds down)", most)
	}
	return msg
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

// setReplicas is "heaps set-replicas NAME N": it changes the heap's
// replication factor and says what the heap will have, as "heaps create"
// does (how many voters the live servers allow); with asJSON, the node's
// answer (admin.Replicas).
func setReplicas(ctx context.Context, w io.Writer, c *admin.Client, heap, arg string, asJSON bool) error {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 || n > 9 {
		return fmt.Errorf("heaps set-replicas: %q is no number of voters: want one from 1 to 9 (an even number is one voter fewer)", arg)
	}
	if err := c.SetHeapReplicas(ctx, heap, n); err != nil {
		return outcomeUnknown(explainNotFound(c, "heaps set-replicas", heap, "", err), "ossd heaps") // notfound.go, unknownmsg.go
	}
	if asJSON {
		return printJSONTo(w, admin.Replicas{Heap: heap, Replicas: n})
	}
	servers := -1
	if st, err := c.Status(ctx); err == nil {
		servers = 0
		for _, m := range st.Members {
			if m.Role == pki.RoleServer {
				servers++
			}
		}
	}
	_, err = fmt.Fprintln(w, setMessage(heap, n, servers))
	return err
}

// setMessage says what a heap whose factor was set to replicas keeps on
// servers live servers (-1: unknown): its voters follow, each added one
// first a learner that catches up, each surplus one taken out as a
// learner, while the heap commits.
func setMessage(heap string, replicas, servers int) string {
	most := placedVoters(replicas, replicas)
	msg := fmt.Sprintf("heap %q keeps %s", heap, count(most, "voter"))
	if most < replicas {
		msg += fmt.Sprintf(" (%d wanted: a heap has an odd number of voters, so an even number rounds down)", replicas)
	}
	if placed := placedVoters(replicas, servers); servers >= 0 && placed < most {
		msg += fmt.Sprintf(", %d for now: the cluster has %s, and the heap gains voters as servers join", placed, count(servers, "server"))
	}
	return msg + "; its leader adds or takes out voters until it has them (\"ossd status\" shows them)"
}
