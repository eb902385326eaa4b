package oss

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/transport"
	"go.etcd.io/raft/v3/raftpb"
)

// Identity: which node a raft ID is.
//
// The transport authenticates a peer by the name in its certificate; raft
// names nodes by IDs. A message is taken only from the node its raft ID
// belongs to, so the binding of IDs to names must come from where no peer
// can forge it: committed state. The catalog keeps a node record per name
// (the ID the node runs under), written only by the catalog's leader when
// the node, authenticated by its certificate, asks to join; and the heap
// entries name the first voters of each group. A node takes an ID's name
// from membership only when no committed state names that ID.

// nodeSpace is the namespace of node records' object IDs in the catalog.
var nodeSpace = uuid.MustParse("0a7f3b0e-51c4-4d0b-8e3a-2f3c9d1e0b17")

// nodeRecordID is the catalog object recording the named node's raft ID.
func nodeRecordID(name string) uuid.UUID { return uuid.NewSHA1(nodeSpace, []byte(name)) }

// nodeRecord binds a node's name to the raft ID it runs under.
type nodeRecord struct {
	Name string `cbor:"1,keyasint"`
	ID   uint64 `cbor:"2,keyasint"`
	// Addr is the address the node advertised when it registered.
	Addr string `cbor:"3,keyasint,omitempty"`
	// Server: the node registered with a server's certificate. A client
	// certificate of the same name does not take the record over.
	Server bool `cbor:"4,keyasint,omitempty"`
}

// bindingsOf returns the raft IDs that one state of the catalog names: the
// node records, then the first voters of every heap for IDs no record
// names, and the node records by name.
func bindingsOf(st *consistency.State) (map[uint64]string, map[string]nodeRecord) {
	ids := make(map[uint64]string)
	recs := make(map[string]nodeRecord)
	var entries []heapEntry
	st.Ascend(uuid.Nil, func(o consistency.Object) bool {
		var r nodeRecord
		if codec.Unmarshal(o.Value, &r) == nil && r.Name != "" && r.ID != 0 && nodeRecordID(r.Name) == o.ID {
			recs[r.Name] = r
			ids[r.ID] = r.Name
			return true
		}
		var e heapEntry
		if codec.Unmarshal(o.Value, &e) == nil && e.Name != "" && entryID(e.Name) == o.ID {
			entries = append(entries, e)
		}
		return true
	})
	for _, e := range entries {
		for _, m := range e.Voters {
			if _, ok := ids[m.ID]; !ok && m.ID != 0 {
				ids[m.ID] = m.Name
			}
		}
	}
	return ids, recs
}

// bindings is what the catalog says about raft IDs, as of one index.
type bindings struct {
	index uint64
	ids   map[uint64]string
	recs  map[string]nodeRecord
}

// identities caches the catalog's bindings, rebuilt when the catalog's
// state moves past them.
type identities struct {
	cur atomic.Pointer[bindings]
	mu  sync.Mutex // serializes rebuilds
}

// committed returns the bindings of the local catalog replica's latest
// state.
func (n *Node) committed() *bindings {
	h := n.catalog.Load()
	if h == nil {
		return &bindings{}
	}
	st := h.state.Load()
	if b := n.ident.cur.Load(); b != nil && b.index == st.Index() {
		return b // raft messages ask for every message: no lock
	}
	n.ident.mu.Lock()
	defer n.ident.mu.Unlock()
	if b := n.ident.cur.Load(); b != nil && b.index >= st.Index() {
		return b
	}
	ids, recs := bindingsOf(st)
	b := &bindings{index: st.Index(), ids: ids, recs: recs}
	n.ident.cur.Store(b)
	return b
}

// boundName returns the node committed state names for a raft ID.
func (n *Node) boundName(id uint64) (string, bool) {
	if id == n.id {
		return n.cfg.Name, true
	}
	name, ok := n.committed().ids[id]
	return name, ok
}

// live returns the live nodes as the directory gives them, less those
// claiming a raft ID that committed state gives another node, and with
// each peer's role as its certificate says, not as it announces.
func (n *Node) live() []peerInfo {
	all := n.directory().live()
	b := n.committed()
	out := all[:0:0]
	for _, p := range all {
		if p.Name == n.cfg.Name {
			if p.ID == n.id {
				out = append(out, p)
			}
			continue
		}
		if name, ok := b.ids[p.ID]; ok && name != p.Name {
			n.warnForged(p.Name, p.ID, name)
			continue
		}
		if reservedID(p.ID) {
			n.warnForged(p.Name, p.ID, "raft's own storage")
			continue
		}
		if n.quic != nil {
			// Elsewhere (an in-process network) peerRole is the
			// role of the directory's entry under that name: p's.
			// Looked up again, each peer cost a decode of every
			// entry, at each reconcile of each group.
			p.Role = n.peerRole(p.Name)
		}
		out = append(out, p)
	}
	return out
}

// otherClaimant returns a live member of another name than name that
// lists raft ID id. Membership's IDs are each member's own word: a
// client that saw a new server's raft ID gossiped, before the server
// registered, joined the catalog under it and had the server's join
// refused for good, or announced it as its own. For a server's name, a
// member that is no server is left out: servers are trusted, and a
// client announcing a server's ID would otherwise hold the server back
// for as long as it announced it.
func otherClaimant(live []peerInfo, id uint64, name string, server bool) (string, bool) {
	for _, p := range live {
		if p.ID == id && p.Name != name && (!server || p.Role == pki.RoleServer) {
			return p.Name, true
		}
	}
	return "", false
}

// warnForged logs, at most every 10 s, a peer claiming another's raft ID.
func (n *Node) warnForged(who string, id uint64, owner string) {
	now := time.Now().UnixNano()
	if last := n.forgedWarned.Load(); (last == 0 || now-last >= int64(10*time.Second)) && n.forgedWarned.CompareAndSwap(last, now) {
		n.log.Warn("a peer claims a raft ID that belongs to another node; ignored", "peer", who, "id", fmt.Sprintf("%016x", id), "owner", owner)
	}
}

// admitJoin decides whether the leader of heap h takes a node's request
// to join, made by the peer the transport authenticated as from. The
// raft ID must not be another node's. For the catalog, the node's record
// is written (or moved to its new ID after a restart without its data)
// before it is added, unless a node of that name is live elsewhere
// (liveNameRefusal). For any other heap the ID must be the one committed
// state or membership gives the caller. A refusal that trying again
// cannot change comes back marked final.
func (n *Node) admitJoin(ctx context.Context, h *Heap, from string, r *callRequest) (final bool, err error) {
	b := n.committed()
	if owner, ok := b.ids[r.ID]; ok && owner != from {
		return true, fmt.Errorf("%w: raft ID %016x is node %q's, not %q's", ErrJoinRefused, r.ID, owner, from)
	}
	if r.ID == n.id {
		return true, fmt.Errorf("%w: raft ID %016x is node %q's, not %q's", ErrJoinRefused, r.ID, n.cfg.Name, from)
	}
	if h.name != catalogName {
		if _, ok := b.ids[r.ID]; ok {
			return false, nil
		}
		live := n.live()
		for _, p := range live {
			if p.Name != from || p.ID != r.ID {
				continue
			}
			if other, claimed := otherClaimant(live, r.ID, from, p.Role == pki.RoleServer); claimed {
				// Each member's own word: a client that announced a new
				// server's raft ID was added under it as the heap's learner.
				return false, fmt.Errorf("oss: join of heap %q: membership lists raft ID %016x live as node %q's too, not %q's alone: try again", h.name, r.ID, other, from)
			}
			return false, nil
		}
		return false, fmt.Errorf("oss: join of heap %q: node %q (raft ID %016x) is not registered yet; it joins the catalog first", h.name, from, r.ID)
	}
	rec, ok := b.recs[from]
	if ok && rec.ID == r.ID {
		return false, nil
	}
	role, known := n.peerRoleKnown(from)
	if other, claimed := otherClaimant(n.live(), r.ID, from, role == pki.RoleServer); claimed {
		// Not the caller's to record: the first record of an ID binds it.
		return false, fmt.Errorf("oss: join: membership lists raft ID %016x live as node %q's, not %q's: try again", r.ID, other, from)
	}
	if ok && role != pki.RoleServer && (rec.Server || h.votes(rec.ID)) {
		if !known {
			// No connection of its name live as the call is served
			// (closed meanwhile): asked again, not refused for good.
			return false, fmt.Errorf("oss: join: the certificate of node %q is not known here at the moment; try again", from)
		}
		return true, fmt.Errorf("%w: node %q is a server (raft ID %016x): a %s certificate of its name cannot take its place; give it a name of its own",
			ErrJoinRefused, from, rec.ID, roleName(role))
	}
	if ok {
		if final, err := n.liveNameRefusal(ctx, from, rec, r); err != nil {
			return final, err
		}
	}
	if ok {
		if ago, refused := n.reRegistered.take(from, time.Now()); refused {
			return false, fmt.Errorf("oss: join: node %q registered a new raft ID %v ago; a name takes a new one at most every %v: try again",
				from, ago.Round(time.Millisecond), reRegisterEvery)
		}
	}
	err = h.Update(ctx, func(tx *Tx) error {
		return Put(tx, nodeRecordID(from), nodeRecord{Name: from, ID: r.ID, Addr: r.Addr, Server: role == pki.RoleServer})
	})
	if err != nil {
		return false, fmt.Errorf("oss: join: registering node %q: %w", from, err)
	}
	n.log.Info("node registered", "peer", from, "id", fmt.Sprintf("%016x", r.ID), "addr", r.Addr)
	return false, nil
}

// liveNameRefusal returns why a join of the node named from under a new
// raft ID (r) is refused while membership lists the node registered under
// that name (rec) live, nil if it does not. The address is the one
// membership itself holds for the entry that lists it (peerInfo.At,
// memberlist's, read with its raft ID): not the record's, which keeps the
// one it registered from (a node restarted on its data directory
// elsewhere does not register again), nor the one the entry's metadata
// announces, which any holder of the node's certificate can gossip (a
// copy would be pinged at its own address, and prove itself there). On
// an in-process network, which holds none, it is the one the member
// announces (memberAddr). Whatever address the join claims (r.Addr, the
// joiner's advertised one: reachedAt), the listed node is pinged there,
// and the process answering is compared with the one whose call ctx is
// (whoAnswers). The joiner proven to answer there (it echoes the
// challenge the ping carried) is its restart, which membership has not
// seen yet, also when it advertises another string for the same socket:
// it is admitted, and its record moves to the new ID. Only the same
// life, no proof (an older build, or a process passing off another's
// life): try again, as before 2026-12-07. Another process answering is a second
// node of that name, refused for good, also when it claims the live
// node's address (a copy of its certificate: it was told to try again
// for ever until 2026-12-06). None answering: membership has likely not
// yet noticed the old node's crash; try again, and once membership
// declares it dead, the name's record moves to the new ID. Membership's
// view alone refused a client restarted elsewhere for good under load
// (design.md, "Flakes under load, 2026-12-06 (evening)"). Without the
// lives (no QUIC, or the process at the listed address answers without
// one) the addresses decide: a join from the listed one is asked to try
// again. A caller that answers without a life, where the process at the
// listed address gave one, is another process.
func (n *Node) liveNameRefusal(ctx context.Context, from string, rec nodeRecord, r *callRequest) (final bool, err error) {
	for _, p := range n.live() {
		if p.Name != from || p.ID != rec.ID {
			continue
		}
		at := p.At
		if at == "" {
			at = n.memberAddr(from, rec.Addr)
		}
		live := fmt.Errorf("a node named %q is already live (raft ID %016x, at %s): stop it, or give this node another name and certificate", from, rec.ID, at)
		if r.Addr == "" || at == "" {
			return false, fmt.Errorf("oss: join: %v", live)
		}
		who, err := n.whoAnswers(ctx, at, from)
		switch {
		case errors.Is(err, errCallerSilent):
			return false, fmt.Errorf("oss: join: node %q answers at %s, where membership lists it live (raft ID %016x); %v: try again", from, at, rec.ID, err)
		case err != nil:
			return false, fmt.Errorf("oss: join: membership lists node %q live (raft ID %016x, at %s), but it does not answer there (%v): "+
				"if it stopped, its name is taken once membership finds it dead; try again", from, rec.ID, at, err)
		case who == answeredByCallerProven:
			n.log.Info("node restarted: the process that joins proved to answer where membership lists the node live; its record moves to the new raft ID",
				"peer", from, "addr", at, "old_id", fmt.Sprintf("%016x", rec.ID), "id", fmt.Sprintf("%016x", r.ID), "claims", r.Addr)
			return false, nil
		case who == answeredByCaller:
			return false, fmt.Errorf("oss: join: node %q answers at %s, where membership lists it live under raft ID %016x, as the process that joins: "+
				"its restart, which membership has not seen yet; try again", from, at, rec.ID)
		case who == answeredByUnknown && sameAddr(r.Addr, at):
			return false, fmt.Errorf("oss: join: %v", live)
		}
		return true, fmt.Errorf("%w: %v", ErrJoinRefused, live)
	}
	return false, nil
}

// sameAddr reports whether two HOST:PORT addresses are one, compared as
// IP addresses and ports (an IPv4 address and its IPv6-mapped form, an
// IPv6 address spelt two ways), as strings if either is not numeric.
func sameAddr(a, b string) bool {
	pa, erra := netip.ParseAddrPort(a)
	pb, errb := netip.ParseAddrPort(b)
	if erra != nil || errb != nil {
		return a == b
	}
	return pa.Addr().Unmap() == pb.Addr().Unmap() && pa.Port() == pb.Port()
}

// liveProbeTimeout bounds whoAnswers: the joiner's call waits a second
// (askJoin), and a live node answers a ping within milliseconds.
const liveProbeTimeout = 750 * time.Millisecond

// errCallerSilent is whoAnswers' error when the process whose call is
// served does not answer a ping on the connection the call came in on.
var errCallerSilent = errors.New("the process that joins does not answer on its connection")

// answeredBy is which process answered a ping (whoAnswers).
type answeredBy int

const (
	// answeredByUnknown: a process answered, not known which.
	answeredByUnknown answeredBy = iota
	// answeredByCaller: the process whose call is being served.
	answeredByCaller
	// answeredByOther: another process.
	answeredByOther
	// answeredByCallerProven: the process whose call is being served,
	// proven: it echoed the challenge sent in the ping at the address
	// (transport.CallerProof), which only the process answering there
	// can.
	answeredByCallerProven
)

// whoAnswers pings the node named name at addr with a challenge
// (transport.QUIC.ReachAsChallenged) and tells whether the process
// answering is the one whose call ctx is, proven (it echoes the
// challenge) or by its life alone (transport.CallerProof, pinged on the
// connection the call came in on), another, or not known; an error if
// either does not answer (errCallerSilent if the caller does not), within
// liveProbeTimeout. It holds no lock.
// Without QUIC (an in-process network, whose directory is exact), for a
// context that is no call's, or when the process at addr answers
// without a life, it is not known; a caller that answers without a
// life, where the process at addr gave one, is another.
func (n *Node) whoAnswers(ctx context.Context, addr, name string) (answeredBy, error) {
	if n.quic == nil {
		return answeredByUnknown, nil
	}
	pctx, cancel := context.WithTimeout(ctx, liveProbeTimeout)
	defer cancel()
	there, ch, err := n.quic.ReachAsChallenged(pctx, addr, name)
	if err != nil || !there.Known() {
		return answeredByUnknown, err
	}
	caller, proven, err := transport.CallerProof(pctx, ch)
	switch {
	case err == nil && proven && caller.Is(there):
		return answeredByCallerProven, nil
	case errors.Is(err, transport.ErrNoCaller):
		return answeredByUnknown, nil
	case err == nil && !caller.Known():
		// The process at addr answered with its life, as every process
		// of this build does: one that answers without cannot be it.
		return answeredByOther, nil
	case err != nil:
		return answeredByUnknown, fmt.Errorf("%w (%v)", errCallerSilent, err)
	case caller.Is(there):
		return answeredByCaller, nil
	}
	return answeredByOther, nil
}

// votes reports whether id is a voter of the group's configuration,
// as the replica last applied it: only a server votes.
func (h *Heap) votes(id uint64) bool {
	cs := h.conf.Load()
	return cs != nil && (slices.Contains(cs.Voters, id) || slices.Contains(cs.VotersOutgoing, id))
}

// memberAddr returns the address membership shows the member name at,
// or def if it shows none.
func (n *Node) memberAddr(name, def string) string {
	for _, m := range n.Members() {
		if m.Name == name && m.Addr != "" {
			return m.Addr
		}
	}
	return def
}

// register records this node in a catalog it has just bootstrapped.
func (n *Node) register(ctx context.Context) error {
	addr := n.reachedAt()
	err := n.catalog.Load().Update(ctx, func(tx *Tx) error {
		return Put(tx, nodeRecordID(n.cfg.Name), nodeRecord{Name: n.cfg.Name, ID: n.id, Addr: addr, Server: n.cfg.Role == pki.RoleServer})
	})
	if err != nil {
		return fmt.Errorf("oss: registering this node in the catalog: %w", err)
	}
	return nil
}

// checkOwnRole refuses a node whose Config.Role is not the role its own
// certificate carries: the certificate decides what a node may do, and
// its peers go by the certificate.
func checkOwnRole(certPEM []byte, role pki.Role) error {
	b, _ := pem.Decode(certPEM)
	if b == nil {
		return roleRefused(errors.New("TLS.CertPEM holds no certificate"))
	}
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return roleRefused(fmt.Errorf("TLS.CertPEM: %w", err))
	}
	var has pki.Role
	if len(leaf.Subject.OrganizationalUnit) > 0 {
		has = pki.Role(leaf.Subject.OrganizationalUnit[0])
	}
	if has != role && has != pki.RoleServer && has != pki.RoleClient {
		return roleRefused(fmt.Errorf("this node's certificate (%q) carries the role %q, which is not a node's: issue one with --role server or --role client", leaf.Subject.CommonName, has))
	}
	if has != role {
		return roleRefused(fmt.Errorf("Role is %q but this node's certificate (%q) carries the role %q: run it as %q (ossd: --role %s), or issue a certificate with the role %q", role, leaf.Subject.CommonName, has, has, has, role))
	}
	return nil
}

// roleRefused is checkOwnRole's refusal of the Config: it matches
// ErrInvalidArgument, as Start's refusals of a Config do (it matched no
// sentinel).
func roleRefused(err error) error {
	return fmt.Errorf("oss: invalid config: %w", configError{err})
}

// writesNoRecord checks an entry a peer proposes to the catalog: none may
// write a node record, or an object where one is. Only the catalog's
// leader writes them, from the certificate of the node that joins, so a
// peer's proposal that does is refused, a server's too. It returns the
// entry's record with the error when the record may be refused in its
// place (consistency.Refusal), and nil with it when it does not decode
// (there is no transaction to refuse).
func writesNoRecord(st *consistency.State, e *raftpb.Entry) (*consistency.Record, error) {
	if e.Type != raftpb.EntryNormal || len(e.Data) == 0 {
		return nil, nil
	}
	rec, err := consistency.UnmarshalRecord(e.Data)
	if err != nil {
		return nil, fmt.Errorf("a malformed catalog record: %v", err)
	}
	for _, w := range rec.Writes {
		var r nodeRecord
		if codec.Unmarshal(w.Value, &r) == nil && r.Name != "" && nodeRecordID(r.Name) == w.ID {
			return rec, fmt.Errorf("%w: a peer may not write node %q's record; the catalog's leader does, when the node joins", ErrPermission, r.Name)
		}
		if o, ok := st.Get(w.ID); ok && codec.Unmarshal(o.Value, &r) == nil && r.Name != "" && nodeRecordID(r.Name) == w.ID {
			return rec, fmt.Errorf("%w: a peer may not change node %q's record", ErrPermission, r.Name)
		}
	}
	return nil, nil
}

// admitsServerCatalogProposal checks a server's proposal to the catalog
// (writesNoRecord) and reports whether it may be stepped. On the
// catalog's leader a record that writes a node record goes on as a
// refusal of it (consistency.Refusal), which every replica decides
// Refused, and the message's other records as they are; elsewhere, or if
// a record does not decode, the message is dropped.
//
// Such a record comes from a node that led the catalog when it wrote it
// (admitJoin registering a joining node) and no longer did when raft
// took it: it was forwarded to the new leader, or sent again to it after
// a leader change. Until 2026-12-06 the leader dropped the message, and
// the proposer sent it again and again, each copy dropped, until its
// caller's context ended: an Update with a three-minute context, made
// right after the lead moved to its placement, ended "commit outcome
// unknown: context deadline exceeded" (TestJoinFromALiveNodesCurrentAddressIsNotFinal,
// 2 runs in 210 at load 16). The refusal is a definite outcome, nothing
// written, and the records forwarded in the same message commit.
func (n *Node) admitsServerCatalogProposal(from string, h *Heap, m *raftpb.Message) bool {
	st := h.state.Load()
	leads := h.leaderIs(h.self)
	var out []raftpb.Entry
	var first error
	for i := range m.Entries {
		rec, err := writesNoRecord(st, &m.Entries[i])
		if err == nil {
			continue
		}
		first = cmp.Or(first, err)
		if rec == nil || !leads {
			out = nil
			break
		}
		if out == nil {
			// The message's entries may be shared with its sender (an
			// in-memory transport): the refusals go in a new slice.
			out = slices.Clone(m.Entries)
		}
		data, _ := consistency.Refusal(rec).Marshal() // never fails
		out[i] = raftpb.Entry{Type: raftpb.EntryNormal, Data: data}
	}
	if first == nil {
		return true
	}
	n.acl.refused.Add(1)
	if out == nil {
		n.noteRefusal("catalog proposal dropped", "peer", from, "err", first)
		return false
	}
	m.Entries = out
	n.noteRefusal("catalog proposal refused: a refusal goes to the log in its place", "peer", from, "err", first)
	return true
}

// reRegisterEvery is the least time between two raft IDs a catalog leader
// registers for one name. A node takes a new ID at every start without
// its data, so a name registered already may come with another, and the
// leader adds it to the catalog's group as a learner; the old ID stays a
// learner until it has been down for ReplaceAfter, and joins come before
// removals. Each of a certificate's join calls with a new ID was
// registered and added: a client certificate's 400 calls in 6 s made 399
// learners of the catalog's group. A restart takes longer than this.
const reRegisterEvery = time.Second

// registrations are the times a catalog leader last registered a new raft
// ID for each name (admitJoin).
type registrations struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// take reports whether a new raft ID for name is refused at now, and how
// long ago the last one was registered; if not refused, now is recorded.
func (r *registrations) take(name string, now time.Time) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if at, ok := r.last[name]; ok && now.Sub(at) < reRegisterEvery {
		return now.Sub(at), true
	}
	if r.last == nil {
		r.last = make(map[string]time.Time)
	}
	if len(r.last) >= 1024 {
		for k, at := range r.last {
			if now.Sub(at) >= reRegisterEvery {
				delete(r.last, k)
			}
		}
	}
	r.last[name] = now
	return 0, false
}
