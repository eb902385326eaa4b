package oss

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/objectsharing/oss/transport"
)

// Rejoining the servers a restarted member last saw. A member restarted
// without Join (the node that bootstrapped the cluster, started again
// as it was first started), or whose Join reached one member only, knew
// nobody else in this process's life: memberlist's own reconnection
// (reconnect) covers only members this process saw fail. After a whole
// cluster was killed and restarted at once, the nodes that came up first
// found each other through their Join and their peer books, and the one
// started without Join stayed a cluster of its own for good, its
// replicas never hearing a leader. So while the node runs, every
// reconnectEvery, it joins through each server of its peer book
// (peerbook.go) that is neither in its view nor among the failed members
// reconnect already tries; a join exchanges the two sides' states and the
// views merge. A server gone for good costs a dial per round.

// knownPeers returns the addresses, as "NAME/HOST:PORT", of the servers
// of the book the membership neither sees live nor tries already.
func (m *membership) knownPeers() []string {
	if m.cfg.known == nil {
		return nil
	}
	book := m.cfg.known()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for name, addr := range book {
		if _, live := m.view[name]; live || name == m.cfg.name {
			continue
		}
		if _, failed := m.failed[name]; failed {
			continue
		}
		out = append(out, name+"/"+addr)
	}
	return out
}

// rejoinKnown joins through the servers knownPeers returns every
// reconnectEvery, until the membership stops. The first round waits too:
// a node started with Join is joining through its book meanwhile.
func (m *membership) rejoinKnown() {
	for {
		select {
		case <-m.stopc:
			return
		case <-time.After(m.reconnectEvery):
		}
		for _, a := range m.knownPeers() {
			select {
			case <-m.stopc:
				return
			default:
			}
			_, err := m.ml.Join([]string{a})
			logRejoined(m.cfg.logger, a, err)
		}
	}
}

// logRejoined logs the outcome of a join through the book's server a.
// One that says a node of this name is live elsewhere (nameTakenJoin) is
// a warning: it was a debug line, and a second node of this name (a copy
// of this one's data directory, started when no server answered) went on
// trying unseen until the other stopped, then got in on its stale log.
func logRejoined(log *slog.Logger, a string, err error) {
	switch {
	case err == nil:
		log.Info("rejoined a server this node last saw", "member", a)
	case nameTakenJoin(err) != nil:
		log.Warn("a server this node last saw refuses it: a node of this name is live elsewhere; stop one of the two (this one, if it runs on a copy of the other's data directory)",
			"member", a, "err", nameTakenJoin(err))
	default:
		log.Debug("server this node last saw not reached", "member", a, "err", err)
	}
}

// entries returns a copy of the book: server name → address.
func (b *peerBook) entries() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]string, len(b.addrs))
	for name, addr := range b.addrs {
		out[name] = addr
	}
	return out
}

// knownServers returns what reads the node's peer book if it is a member
// restarted on its data directory (nil otherwise). It is called before
// the recovered replicas are opened, while isMember can tell.
func (n *Node) knownServers() func() map[string]string {
	if n.peers == nil || !n.isMember() {
		return nil
	}
	return n.peers.entries
}

// rejoinFirstWithin bounds the dials of rejoinBook's round: a dial's own
// bound (transport's dialTimeout), so that a node whose servers are all
// down (a whole cluster restarting, this node first) starts after one.
// A join through a server that answered is not bounded by it: memberlist
// takes up to its TCPTimeout more (2 s on loopback, 10 s on a LAN).
const rejoinFirstWithin = 5 * time.Second

// rejoinBook is the first round of rejoinKnown for a member restarted
// without Join, run before Start returns: until then its view held
// itself alone, its admin interface served, and "ossd status" there, the
// first answer of a node the README's start loop waits for, listed every
// other server as "down: ..., is no live member" (reconnectEvery, 5 s on
// a LAN). A server of the book that answers is joined through, as Join's
// would be; none answering is no error (they may start after this node;
// rejoinKnown goes on trying). A server that says a node of this name is
// connected to it from another address and answers there
// (transport.ErrNameTaken: a copy of this node's data directory, or this
// one run twice) fails the start when none took the join, as through
// Join (joinReached): it was logged as "no server answers yet", and the
// copy went on trying under the same raft ID and got in once the other
// stopped. A restart of this node, its old process gone, is no such
// refusal: a connection whose peer no longer answers gives way to the
// new one (transport's checkUnique). A Start whose ctx ends meanwhile
// fails with ctx's error, as a Join's does.
func (n *Node) rejoinBook(ctx context.Context, advertise string) error {
	if !n.isMember() || n.peers == nil {
		return nil
	}
	known := otherAddrs(n.peers.known(), n.quic.Addr().String(), advertise)
	if len(known) == 0 {
		return nil
	}
	round, cancel := context.WithTimeout(ctx, rejoinFirstWithin)
	defer cancel()
	err := n.joinMembersOnce(round, nil, known)
	if errors.Is(err, ErrJoinRefused) {
		return err
	}
	if err != nil && strings.Contains(err.Error(), transport.ErrPeerRefused.Error()) && ctx.Err() == nil {
		// A server refused this node's certificate, which joinMembersOnce
		// takes for a failed dial at a book's address: if every one
		// does, the start fails as through Join.
		check, cancelCheck := context.WithTimeout(ctx, rejoinFirstWithin)
		joined, refused := n.bookRefusal(check, known)
		cancelCheck()
		if refused != nil {
			return n.explainRefusal(refused, time.Now())
		}
		if joined {
			err = nil
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("oss: join: stopped while rejoining the servers this node last saw (%s): %w", strings.Join(known, ","), ctx.Err())
	}
	if err != nil {
		n.log.Info("no server this node last saw answers yet; it keeps trying them", "servers", known, "err", err)
		return nil
	}
	// A join through bookRefusal came after the first round, whose
	// bound is then spent or nearly (its dials of a server that did not
	// answer ran to it): joinUnseen gets a bound of its own, or it dialled
	// nobody and the node knew one server when Start returned.
	unseen, cancelUnseen := context.WithTimeout(ctx, rejoinFirstWithin)
	defer cancelUnseen()
	n.joinUnseen(unseen)
	return nil
}

// bookRefusal asks every server of known (the book's) to the end, within
// ctx, whether it refuses this node's certificate: at the handshake, or
// at the join's first exchange once the handshake finished (under TLS
// 1.3 the client finishes before the server checks its certificate). It
// returns the first refusal (a *certRefusedError, matching
// ErrJoinRefused) if every server refused, joined true if one took the
// join, and neither if a server did not answer: one down (or a book
// address since taken by another cluster's node, beside servers that
// answer) is no final refusal, and the node starts, trying the book
// again as it runs. A member whose certificate was revoked, restarted
// without Join, started so and sat alone, where through Join it is
// refused at once.
func (n *Node) bookRefusal(ctx context.Context, known []string) (joined bool, refused error) {
	errs := reachAll(ctx, known, n.reach)
	var first error
	for i, addr := range known {
		err := errs[i]
		if err == nil {
			if err = refusedJoin(n.members.join([]string{addr}), []string{addr}); err == nil {
				return true, nil
			}
		} else {
			err = refusedAt(addr, err)
		}
		var cr *certRefusedError
		if !errors.As(err, &cr) {
			return false, nil
		}
		if first == nil {
			first = err
		}
	}
	return false, first
}

// joinUnseen joins, within ctx, through the servers of the book that the
// view still lacks once the join through the first server that answered
// is done. That server's view may not hold a live one (it suspects it,
// or has declared it dead: a false suspicion on a loaded machine, or a
// cut between the two), and memberlist takes no suspect or dead node it
// never saw alive: the member knew one server of three when Start
// returned, the others only after its background round
// (reconnectEvery). Each server answers for itself.
func (n *Node) joinUnseen(ctx context.Context) {
	var addrs []string
	for _, p := range n.members.knownPeers() {
		if _, addr, ok := strings.Cut(p, "/"); ok {
			addrs = append(addrs, addr)
		}
	}
	if len(addrs) == 0 {
		return
	}
	errs := reachAll(ctx, addrs, n.reach)
	var reached []string
	for i, err := range errs {
		if err == nil {
			reached = append(reached, addrs[i])
		}
	}
	if len(reached) == 0 {
		return
	}
	if err := n.members.join(reached); err != nil {
		n.log.Debug("servers this node last saw, not in the view of the one it joined through, not joined", "servers", reached, "err", err)
	}
}
