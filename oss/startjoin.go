package oss

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/transport"
)

// Joining at start. A node started with Join before the member it names
// (several started at once by a service manager, in any order, or the
// whole cluster restarting) would fail after one attempt: with
// Config.JoinRetry it tries again, with a growing pause, saying each time
// why it waits, until a member answers or Start's context ends. What no
// retry can mend fails at once: a member that refuses the handshake, or a
// Join that names only the node itself.

// joinRetryFirst and joinRetryMax bound the pause between attempts.
const (
	joinRetryFirst = time.Second
	joinRetryMax   = 30 * time.Second
)

// joinPause returns the pause after the given failed attempt (0 first).
func joinPause(attempt int) time.Duration {
	return min(joinRetryFirst<<min(attempt, 10), joinRetryMax)
}

// joinMembers joins the cluster's membership through Join, leaving the
// node's own address out.
func (n *Node) joinMembers(ctx context.Context, advertise string) error {
	c := n.cfg
	if len(c.Join) == 0 {
		return n.rejoinBook(ctx, advertise) // rejoinpeers.go
	}
	addrs := otherAddrs(c.Join, n.quic.Addr().String(), advertise)
	if len(addrs) == 0 {
		if n.isMember() {
			return nil // a member restarted: its peers reach it again
		}
		return fmt.Errorf("oss: join: %s is this node's own address: name a member of the cluster to join, or no address at all to bootstrap a new cluster", strings.Join(c.Join, ","))
	}
	var known []string
	if n.isMember() && n.peers != nil {
		// A member restarted: the servers it last saw may answer where
		// the ones Join names are gone (peerbook.go).
		for _, a := range otherAddrs(n.peers.known(), n.quic.Addr().String(), advertise) {
			if !slices.Contains(addrs, a) {
				known = append(known, a)
			}
		}
	}
	for attempt := 0; ; attempt++ {
		err := n.explainRefusal(n.joinMembersOnce(ctx, addrs, known), time.Now())
		if err != nil && !errors.Is(err, ErrJoinRefused) && ctx.Err() != nil {
			// The dials ctx cut short fail as "no member answered",
			// which names their cause as text alone: say what ended them.
			return fmt.Errorf("oss: join: stopped after %d attempts: %w (the last: %v)", attempt+1, ctx.Err(), err)
		}
		if err == nil || errors.Is(err, ErrJoinRefused) || !c.JoinRetry {
			if err == nil && attempt > 0 {
				n.log.Info("joined the cluster", "join", addrs, "attempts", attempt+1)
			}
			if err != nil && !errors.Is(err, ErrJoinRefused) && n.isMember() {
				err = fmt.Errorf("%w; this node is a member already (its data directory says so), and none of the members it tried answered: start them, or start it with Config.JoinRetry to wait for them (or without Join: it then reaches the members it knew as they come back)", err)
			}
			return err
		}
		wait := joinPause(attempt)
		n.log.Warn("cannot join the cluster yet; trying again (start a member it names, or stop this node)",
			"join", addrs, "attempt", attempt+1, "again_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("oss: join: stopped after %d attempts: %w (the last: %v)", attempt+1, ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// joinMembersOnce dials each address of addrs (Join's) and known (the
// servers a restarted member last saw), then joins membership through
// those that answered. A handshake refused at an address of Join, or a
// name taken at any address, matches ErrJoinRefused when no address took
// the join; a handshake refused at a known address (since taken by
// another cluster's node, say) is only a failed dial.
func (n *Node) joinMembersOnce(ctx context.Context, addrs, known []string) error {
	all := append(slices.Clip(addrs), known...)
	errs := reachAny(ctx, all, n.reach)
	err := n.joinReached(all, errs, addrs)
	if err == nil {
		n.joinServersToo(ctx, all, errs, addrs)
		return nil
	}
	if errors.Is(err, ErrJoinRefused) {
		return err
	}
	// The first address to answer cut the others' dials short. When it
	// was a known server's and no address took the join, Join's may be
	// refusing this node, which no retry mends: a revoked member's known
	// servers finish their handshakes (under TLS 1.3 the client finishes
	// before the server checks its certificate) and refuse it at the
	// join's first exchange, only failed dials of theirs, and the member
	// was told to start a member that was running. Ask Join's to the end.
	var rest []string
	for i, a := range addrs {
		if errs[i] != nil && refusedAt(a, errs[i]) == nil {
			rest = append(rest, a)
		}
	}
	if len(rest) == 0 || len(rest) == len(all) {
		return err
	}
	if again := n.joinReached(rest, reachAll(ctx, rest, n.reach), addrs); again == nil || errors.Is(again, ErrJoinRefused) {
		return again
	}
	return err
}

// joinServersToo joins membership through the addresses of all whose
// dials the first answer ended (errs, one for each), when those that
// answered were clients only: a client's gossip about other members is
// left out (transport/gossip), so the node would know no server, and its
// catalog join would find no leader (Join names a client and a server,
// the client answering first). Each round takes the first of the rest
// to answer, as the first join did: waiting for every one of them held
// Start for a dead address's whole dial (5 s) after a server had
// answered. A round that reaches none ends it.
func (n *Node) joinServersToo(ctx context.Context, all []string, errs []error, addrs []string) {
	for rest := cutShort(all, errs); len(rest) > 0 && !n.knowsAServer(); {
		errs := reachAny(ctx, rest, n.reach)
		if err := n.joinReached(rest, errs, addrs); err != nil {
			n.log.Warn("joined membership through clients only, and no other address answered", "join", rest, "err", err)
			return
		}
		rest = cutShort(rest, errs)
	}
}

// cutShort returns the addresses of all whose reach (errs, one for each)
// did not answer and did not refuse: those another's answer ended, and
// those that did not answer at all.
func cutShort(all []string, errs []error) []string {
	var rest []string
	for i, a := range all {
		if errs[i] != nil && refusedAt(a, errs[i]) == nil {
			rest = append(rest, a)
		}
	}
	return rest
}

// knowsAServer reports whether membership lists a server other than this
// node, by its certificate's role where a connection gave it.
func (n *Node) knowsAServer() bool {
	for _, m := range n.members.members() {
		role := m.Role
		if r, ok := n.peerIdentity(m.Name); ok {
			role = r
		}
		if m.Name != n.cfg.Name && role == pki.RoleServer {
			return true
		}
	}
	return false
}

// joinReached joins membership through the addresses of all that
// reach answered (errs, one for each), addrs being Join's.
func (n *Node) joinReached(all []string, errs []error, addrs []string) error {
	var why, reached []string
	var refused error
	for i, err := range errs {
		if err == nil {
			reached = append(reached, all[i])
			continue
		}
		// A name taken is a refusal at any address, a server of the book
		// too (rejoinBook); other refusals only at Join's.
		if refused == nil && (slices.Contains(addrs, all[i]) || errors.Is(err, transport.ErrNameTaken)) {
			refused = refusedAt(all[i], err)
		}
		why = append(why, err.Error())
	}
	if len(reached) > 0 {
		err := refusedJoin(n.members.join(reached), addrs)
		if err != nil && refused != nil && !errors.Is(err, ErrJoinRefused) {
			return refused // no address took the join, and one of Join's refused this node
		}
		return err
	}
	if refused != nil {
		return refused
	}
	if paced := pacedAt(all, errs); paced != "" {
		return fmt.Errorf("oss: join: no member answered at %s: %s refused this node's dial before its handshake, as it paces the handshakes of an IP address a certificate no CA of its cluster signed came from: this node's (is it of the cluster's CA?) or another program's at this node's address; tried again, it may get through: %s",
			strings.Join(all, ","), paced, strings.Join(why, "; "))
	}
	return fmt.Errorf("oss: join: no member answered at %s (is an OSS node listening there? Join takes a member's QUIC address, ossd's --listen or --advertise, not its admin address): %s",
		strings.Join(all, ","), strings.Join(why, "; "))
}

// pacedAt returns the first address of all whose dial (errs, one for
// each) was refused before its handshake as a stranger's
// (transport.ErrPacedAsStranger), or "".
func pacedAt(all []string, errs []error) string {
	for i, err := range errs {
		if errors.Is(err, transport.ErrPacedAsStranger) {
			return all[i]
		}
	}
	return ""
}

// refusedAt returns err, a failed dial of addr (of Join), as
// ErrJoinRefused if the member turned this node away: it refused the
// handshake (saying which side refused which certificate), or a node of
// this name is connected to it from another address
// (transport.ErrNameTaken, which otherwise comes at the join's first
// exchange, through membership). nil if err is no refusal.
func refusedAt(addr string, err error) error {
	switch {
	case errors.Is(err, transport.ErrNameTaken):
		return fmt.Errorf("%w: %s: %w", ErrJoinRefused, addr, err)
	case !errors.Is(err, transport.ErrRefused):
		return nil
	case errors.Is(err, transport.ErrPeerRefused):
		return &certRefusedError{addr: addr, cause: err.Error(), err: err}
	}
	return fmt.Errorf("%w: the handshake with %s failed: %w (are both nodes' certificates of the same cluster CA, and neither revoked nor expired?)", ErrJoinRefused, addr, err)
}

// refusedJoin returns err, a failed join through membership, as
// ErrJoinRefused if an address of Join (addrs) refused this node's
// certificate there: the handshake a dial finished (TLS 1.3 lets the
// client finish before the server has checked its certificate) was
// refused at the join's first exchange. A revoked node was otherwise
// tried again for ever, told to start a member that was running.
// memberlist keeps only the text of its transport's errors, a line
// "failed to join ADDR: ..." an address.
func refusedJoin(err error, addrs []string) error {
	if err == nil || errors.Is(err, ErrJoinRefused) {
		return err
	}
	for line := range strings.Lines(err.Error()) {
		_, rest, ok := strings.Cut(line, "failed to join ")
		addr, why, _ := strings.Cut(rest, ": ")
		_, cause, refused := strings.Cut(why, transport.ErrPeerRefused.Error()+": ")
		if ok && refused && isJoinAddr(addr, addrs) {
			return &certRefusedError{addr: addr, cause: strings.TrimSpace(cause)}
		}
		other := strings.Contains(why, ErrOtherCluster.Error()) || strings.Contains(why, transport.ErrOtherGroup.Error())
		if ok && other && isJoinAddr(addr, addrs) {
			// A member of another cluster (cluster.go), refused by its
			// membership or, once both have their cluster's ID, by the
			// transport (its group): no retry mends it.
			if !strings.Contains(why, ErrOtherCluster.Error()) {
				why = ErrOtherCluster.Error() + ": " + why
			}
			return otherClusterRefusal(fmt.Sprintf("%s: %s: %s", ErrJoinRefused, addr, strings.TrimSpace(why)))
		}
	}
	return err
}

// otherClusterRefusal is a join refused by a member of another cluster,
// its text memberlist's: it matches ErrJoinRefused and ErrOtherCluster.
type otherClusterRefusal string

func (e otherClusterRefusal) Error() string { return string(e) }

func (e otherClusterRefusal) Unwrap() []error { return []error{ErrJoinRefused, ErrOtherCluster} }

// certRefusedError is a join refused because a member (addr) refused
// this node's certificate. The member knows why, and logs it; the TLS
// alert it sends says only "bad certificate". own, if set
// (Node.explainRefusal), says what this node knows of its own
// certificate, which leaves fewer causes to the reader.
type certRefusedError struct {
	addr, cause, own string
	err              error // the dial's, if the refusal came there
}

func (e *certRefusedError) Error() string {
	own := e.own
	if own == "" {
		own = "revoked, expired, or of another CA? that node's log says which"
	}
	return fmt.Sprintf("%s: %s refused this node's certificate (%s): %s", ErrJoinRefused, e.addr, own, e.cause)
}

func (e *certRefusedError) Unwrap() []error {
	if e.err == nil {
		return []error{ErrJoinRefused}
	}
	return []error{ErrJoinRefused, e.err}
}

// explainRefusal adds to err, if a member refused this node's
// certificate, what the node knows of it at now: expired, or not, so
// that the member holds it revoked or trusts another CA. It said
// "revoked, expired, or of another CA?" of a certificate revoked an
// hour before.
func (n *Node) explainRefusal(err error, now time.Time) error {
	var cr *certRefusedError
	if !errors.As(err, &cr) {
		return err
	}
	id := n.quic.Certificate()
	if !id.Expires.After(now) {
		cr.own = fmt.Sprintf("this node's certificate (serial %s) or its CA's expired at %s: issue a new one",
			id.Serial.Text(16), id.Expires.UTC().Format(time.RFC3339))
		return err
	}
	cr.own = fmt.Sprintf("this node's certificate of %q (serial %s) has not expired, so that node holds it revoked "+
		"(ossd cert revocations lists them; issue a new one) or trusts another CA; its log says which", id.Name, id.Serial.Text(16))
	return err
}

// isJoinAddr reports whether addr, as memberlist resolved it, is one of
// addrs, as Join gives them (a name, say).
func isJoinAddr(addr string, addrs []string) bool {
	for _, a := range addrs {
		if a == addr {
			return true
		}
		if ua, err := net.ResolveUDPAddr("udp", a); err == nil && ua.String() == addr {
			return true
		}
	}
	return false
}

// reachAny calls reach for every address of addrs at once and returns
// their errors, in the order of addrs. The first address that answers
// ends the calls still under way (their errors then say so): one member
// is enough to join through, and an address that does not answer would
// otherwise hold the join for a whole dial's timeout (5 s, at every start
// of a node whose Join names a member that is down).
func reachAny(ctx context.Context, addrs []string, reach func(context.Context, string) error) []error {
	return reachEach(ctx, addrs, reach, true)
}

// reachAll is reachAny without its cut short: it waits for every
// address's own answer (nil: reached).
func reachAll(ctx context.Context, addrs []string, reach func(context.Context, string) error) []error {
	return reachEach(ctx, addrs, reach, false)
}

// reachEach calls reach for every address of addrs at once and returns
// their errors, in the order of addrs, once every call has returned.
// With firstEnds, the first call that succeeds cancels the others'
// context.
func reachEach(ctx context.Context, addrs []string, reach func(context.Context, string) error, firstEnds bool) []error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() {
			if errs[i] = reach(ctx, a); errs[i] == nil && firstEnds {
				cancel()
			}
		})
	}
	wg.Wait()
	return errs
}

// reach dials addr as the transport's Reach does, or as the
// configuration's reach hook (tests) says.
func (n *Node) reach(ctx context.Context, addr string) error {
	if f := n.cfg.reach; f != nil {
		return f(ctx, addr, n.quic.Reach)
	}
	return n.quic.Reach(ctx, addr)
}

// isMember reports whether the node recovered the catalog from its data
// directory: it is a member of a cluster already.
func (n *Node) isMember() bool {
	return n.disk != nil && n.disk.recovered[groupKey{heap: catalogName}] != nil
}

// otherAddrs returns addrs without the node's own: bound is the address
// its endpoint bound, advertise the one peers know (may be empty). An
// address on a port the node bound on every interface counts as its own
// when its host is a loopback one.
func otherAddrs(addrs []string, bound, advertise string) []string {
	self := []*net.UDPAddr{}
	for _, a := range []string{bound, advertise} {
		if ua, err := net.ResolveUDPAddr("udp", a); err == nil && a != "" {
			self = append(self, ua)
		}
	}
	var out []string
	for _, a := range addrs {
		ua, err := net.ResolveUDPAddr("udp", a)
		if err == nil && isOwnAddr(ua, self) {
			continue
		}
		out = append(out, a)
	}
	return out
}

func isOwnAddr(a *net.UDPAddr, self []*net.UDPAddr) bool {
	for _, s := range self {
		if s.Port != a.Port {
			continue
		}
		if s.IP.Equal(a.IP) || (s.IP.IsUnspecified() && a.IP.IsLoopback()) {
			return true
		}
	}
	return false
}

// joinCatalog joins the catalog's group as a learner, again after each
// timeout while JoinRetry holds and ctx lets it: a cluster whose catalog
// has no leader in reach (most of its servers restarting) is waited for.
func (n *Node) joinCatalog(ctx context.Context, h *Heap) error {
	for attempt := 0; ; attempt++ {
		// A replica already in its group's configuration (the catalog's
		// leader placed it there) joins without a call that would see
		// the caller's end: a Start whose caller gave up fails here.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("oss: join: %w", err)
		}
		jctx, cancel := context.WithTimeout(ctx, joinTimeout)
		err := n.joinGroup(jctx, h, nil)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrJoinRefused) { // reached, and turned away
			return fmt.Errorf("oss: join: %w", err)
		}
		err = fmt.Errorf("oss: join: cannot reach the cluster's catalog: %w", err)
		if !n.cfg.JoinRetry || ctx.Err() != nil || errors.Is(err, ErrClosed) {
			return err
		}
		n.log.Warn("joined the cluster's membership, but its catalog has no leader in reach; trying again", "attempt", attempt+1, "err", err)
	}
}

// checkJoin refuses a Join address that is no HOST:PORT (on QUIC; an
// in-process network's Join names nodes): one without its port was
// tried again for ever, as if no member answered there yet.
func (c *Config) checkJoin() []error {
	if c.Transport != nil {
		return nil
	}
	var errs []error
	for _, a := range c.Join {
		if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" {
			errs = append(errs, fmt.Errorf("Join: %q: want HOST:PORT, a member's QUIC address", a))
		}
	}
	return errs
}
