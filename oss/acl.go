package oss

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
	"go.etcd.io/raft/v3/raftpb"
)

// Access control. Grants give a certificate name read, write or admin on a
// heap or on every heap whose name starts with a prefix. They live in the
// catalog, so every node knows them, and every node enforces them:
//
//   - nodes of role server (the cluster's own) and operators of role admin
//     may do everything;
//   - a node of role client needs a grant: read to open a heap (and join
//     its group), write to commit to it, admin to create or drop it. Every
//     client node reads the catalog, which it replicates to work at all.
//
// A client node checks its own calls against its catalog replica, for a
// clear error; the servers check what it sends them, which is the real
// enforcement: a join of a heap it may not read is refused, a commit to
// a heap it may not write is refused (the heap's leader writes a refusal
// in the log in its place, so the proposer learns for certain), a commit
// to the catalog is taken only if every object it writes is the entry of
// a heap it administers, and raft messages only a leader or a candidate
// sends are dropped. A
// heap's leader removes from its group a client learner that lost read.

// Permission is what a grant allows on a heap.
type Permission string

// The permissions, each implying the ones before it.
const (
	// PermRead opens a heap: its replica, views, watches.
	PermRead Permission = "read"
	// PermWrite commits to a heap; it implies read.
	PermWrite Permission = "write"
	// PermAdmin creates and drops a heap; it implies write.
	PermAdmin Permission = "admin"
)

// rank orders permissions by what they imply; 0 is no permission.
func (p Permission) rank() int {
	switch p {
	case PermRead:
		return 1
	case PermWrite:
		return 2
	case PermAdmin:
		return 3
	}
	return 0
}

// Grant gives a certificate name a permission on a heap, or on every heap
// whose name starts with a prefix.
type Grant struct {
	// Who is a certificate name (its common name).
	Who string
	// Heap is a heap name, or a prefix ending in "*" ("game-*" covers
	// every heap whose name starts with "game-", "*" every heap). Only
	// "*" answers a question about every heap (Authorize's heap "*"):
	// "**" covers the heaps whose names start with "*", not all. System
	// heaps ("oss:…") are not grantable.
	Heap string
	// Perm is read, write (implying read) or admin (implying write).
	Perm Permission
}

func (g Grant) String() string { return fmt.Sprintf("%s %s on %s", g.Who, g.Perm, g.Heap) }

// covers reports whether the grant's heap (a name or a prefix) covers heap.
// A question about every heap, heap "*" (the admin interface's status,
// /metrics, the dashboard, the grants' endpoints), is covered by a grant
// on "*" alone: as a prefix match, a grant on "**" (the heaps whose names
// start with "*") or "*" covered it too, and a client granted read on
// "**" was shown every heap. A heap named "*" (no new heap may be, see
// newHeapName) is so readable only under a grant on every heap.
func (g Grant) covers(heap string) bool {
	if heap == "*" {
		return g.Heap == "*"
	}
	if prefix, ok := strings.CutSuffix(g.Heap, "*"); ok {
		return strings.HasPrefix(heap, prefix)
	}
	return g.Heap == heap
}

// validate checks a grant before it is written.
func (g Grant) validate() error {
	if err := pki.CheckName(g.Who); err != nil {
		// The name of a certificate's holder, as "ossd cert issue"
		// checks it: any other was granted, and no certificate could
		// use the grant.
		return fmt.Errorf("%w: grant: the name %q is no certificate's: %v", ErrInvalidArgument, g.Who, err)
	}
	if g.Perm.rank() == 0 {
		return fmt.Errorf("%w: grant: permission %q is none of %q, %q, %q", ErrInvalidArgument, g.Perm, PermRead, PermWrite, PermAdmin)
	}
	if g.Heap != "*" {
		if err := validHeapName(g.Heap); err != nil {
			return fmt.Errorf("grant: %w", err)
		}
	}
	if strings.HasPrefix(g.Heap, systemPrefix) {
		return fmt.Errorf("%w %q: system heaps (%q…) are not grantable", ErrInvalidHeapName, g.Heap, systemPrefix)
	}
	return nil
}

// aclSpace is the namespace of the catalog objects that hold grants, apart
// from the heap entries' (engine.EntryID).
var aclSpace = uuid.MustParse("6f2c1d5e-8a41-4b7e-9a0e-0c55c7a1e002")

// grantID is the catalog object that holds a grant: one per name, heap and
// permission, so that granting twice is one grant.
func grantID(g Grant) uuid.UUID {
	return uuid.NewSHA1(aclSpace, []byte(g.Who+"\x00"+g.Heap+"\x00"+string(g.Perm)))
}

// grantRecord is a grant's value in the catalog. Its keys are apart from
// heapEntry's, and its object ID says it is a grant: entriesOf never takes
// it for a heap, nor grantsOf a heap entry for a grant.
type grantRecord struct {
	Who  string `cbor:"11,keyasint"`
	Heap string `cbor:"12,keyasint"`
	Perm string `cbor:"13,keyasint"`
}

// grantsOf returns the grants of one state of the catalog, sorted.
func grantsOf(st *consistency.State) []Grant {
	var out []Grant
	st.Ascend(uuid.Nil, func(o consistency.Object) bool {
		var r grantRecord
		if codec.Unmarshal(o.Value, &r) == nil && r.Who != "" {
			g := Grant{Who: r.Who, Heap: r.Heap, Perm: Permission(r.Perm)}
			if grantID(g) == o.ID {
				out = append(out, g)
			}
		}
		return true
	})
	slices.SortFunc(out, func(a, b Grant) int {
		return cmp.Or(cmp.Compare(a.Who, b.Who), cmp.Compare(a.Heap, b.Heap), cmp.Compare(a.Perm.rank(), b.Perm.rank()))
	})
	return out
}

// aclState is a node's access control: the grants of its catalog replica,
// parsed once per state, the roles of its peers, and what it refused.
type aclState struct {
	cache atomic.Pointer[aclCache]
	roles sync.Map // peer name -> roleSeen

	refused atomic.Uint64 // raft messages from client peers dropped, or whose records were refused
	joins   atomic.Uint64 // joins refused
	evicted atomic.Uint64 // learners removed for lack of read
	warned  atomic.Int64  // when a refusal was last logged, in Unix nanoseconds
}

// aclCache is the grants of one state of the catalog, by name.
type aclCache struct {
	st    *consistency.State
	byWho map[string][]Grant
	all   []Grant
}

// roleSeen is a peer's role as its certificate said when last asked.
type roleSeen struct {
	role pki.Role
	at   int64 // Unix nanoseconds
}

// roleTTL is how long a peer's role is taken from the cache rather than
// from its connection: raft messages arrive by the thousand.
const roleTTL = time.Second

// aclLogEvery is the least time between two log lines about refusals.
const aclLogEvery = 10 * time.Second

// grantTable returns the grants of the local catalog replica.
func (n *Node) grantTable() *aclCache {
	cat := n.catalog.Load()
	if cat == nil {
		return &aclCache{}
	}
	st := cat.state.Load()
	if c := n.acl.cache.Load(); c != nil && c.st == st {
		return c
	}
	c := &aclCache{st: st, all: grantsOf(st), byWho: map[string][]Grant{}}
	for _, g := range c.all {
		c.byWho[g.Who] = append(c.byWho[g.Who], g)
	}
	n.acl.cache.Store(c)
	return c
}

// Grants returns the grants of the local catalog replica, sorted by name,
// heap and permission. A grant just made on another node appears once the
// replica has applied it.
func (n *Node) Grants() []Grant {
	return slices.Clone(n.grantTable().all)
}

// Grant gives g.Who the permission g.Perm on g.Heap, in the catalog; it
// returns once the grant has committed, and every node enforces it once
// its catalog replica has applied it. Granting what is granted already is
// not an error. Only server nodes grant: on a client node Grant returns an
// error matching ErrPermission.
func (n *Node) Grant(ctx context.Context, g Grant) error {
	if err := g.validate(); err != nil {
		return err
	}
	if err := n.mayChangeGrants(); err != nil {
		return err
	}
	if err := n.Damage(); err != nil {
		return err
	}
	err := n.catalog.Load().Update(ctx, func(tx *Tx) error {
		return Put(tx, grantID(g), grantRecord{Who: g.Who, Heap: g.Heap, Perm: string(g.Perm)})
	})
	if err != nil {
		return fmt.Errorf("oss: grant %s: %w", g, err)
	}
	return nil
}

// RevokeGrant removes the grant g, exactly as it was granted (revoking
// write does not touch an admin grant of the same name and heap). It
// returns an error matching ErrNotFound if there is no such grant. A node
// enforces the revocation once its catalog replica has applied it; a heap's
// leader then drops the name's proposals, and removes it from the group
// if it lost read. Only server nodes revoke.
func (n *Node) RevokeGrant(ctx context.Context, g Grant) error {
	if err := n.mayChangeGrants(); err != nil {
		return err
	}
	if err := n.Damage(); err != nil {
		return err
	}
	err := n.catalog.Load().Update(ctx, func(tx *Tx) error {
		ok, err := tx.Exists(grantID(g))
		if err != nil {
			return err
		}
		if !ok {
			return errNothingThere // checked with a read index, not a record
		}
		return tx.Delete(grantID(g))
	})
	if err == errNothingThere {
		return fmt.Errorf("oss: revoke %s: %w: no such grant (see Node.Grants, or ossd acl list)", g, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("oss: revoke %s: %w", g, uncheckedRemoval(err, "the grant"))
	}
	return nil
}

func (n *Node) mayChangeGrants() error {
	if n.cfg.Role == pki.RoleServer {
		return nil
	}
	return fmt.Errorf("%w: %s %q may not change grants: only server nodes and operators do (ossd acl grant|revoke)", ErrPermission, n.cfg.Role, n.cfg.Name)
}

// privileged reports whether a role may do everything: the cluster's own
// servers and its operators.
func privileged(role pki.Role) bool { return role == pki.RoleServer || role == pki.RoleAdmin }

// Authorize reports whether the identity (a certificate name and its role)
// may do p on heap, by the grants of the local catalog replica: nil, or an
// error matching ErrPermission that says who lacks what, and how to grant
// it. Roles server and admin may do everything; a client needs a grant of
// p or of a permission implying it, on the heap or a prefix of its name;
// for heap "*", every heap, a grant on "*" itself.
// A client may read the catalog ("oss:catalog"), and no other system heap.
// On a damaged node (Damage) a client's request is refused with the
// damage, an error matching ErrCorrupt, not ErrPermission: its grants are
// a lost replica's, and one revoked since would still be honoured.
func (n *Node) Authorize(name string, role pki.Role, heap string, p Permission) error {
	if privileged(role) {
		return nil
	}
	if err := n.Damage(); err != nil {
		return err
	}
	return n.authorize(name, role, heap, p)
}

// authorize is Authorize by the grants of the local catalog replica, lost
// or not: the node's own checks and its peers' requests. A damaged node
// refuses what it is asked by its callers (Authorize, and Heap and its
// kin, at the open); what its peers ask of the replicas it leads goes on
// by the grants it has, rather than fail at every heap it leads, or
// remove every client from them (unreadable), until it is rebuilt.
func (n *Node) authorize(name string, role pki.Role, heap string, p Permission) error {
	if privileged(role) {
		return nil
	}
	if p.rank() == 0 {
		return fmt.Errorf("%w: unknown permission %q", ErrInvalidArgument, p)
	}
	if strings.HasPrefix(heap, systemPrefix) {
		if heap == catalogName && p == PermRead {
			return nil
		}
		return fmt.Errorf("%w: %s %q may not %s the system heap %q", ErrPermission, roleName(role), name, p, heap)
	}
	for _, g := range n.grantTable().byWho[name] {
		if g.covers(heap) && g.Perm.rank() >= p.rank() {
			return nil
		}
	}
	return &PermissionError{Who: name, Role: role, Heap: heap, Perm: p}
}

func roleName(role pki.Role) string {
	if role == "" {
		return "node"
	}
	return string(role)
}

// PermissionError says who lacks which permission on which heap. It
// matches ErrPermission.
type PermissionError struct {
	Who  string
	Role pki.Role
	Heap string
	Perm Permission
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("oss: permission denied: %s %q may not %s heap %q (no grant of %s on it); an operator grants it with: ossd acl grant --to %s --heap %s --perm %s",
		roleName(e.Role), e.Who, verb(e.Perm), e.Heap, e.Perm, shellWord(e.Who), shellWord(e.Heap), e.Perm) // shellword.go
}

// Is reports whether target is ErrPermission.
func (e *PermissionError) Is(target error) bool { return target == ErrPermission }

func verb(p Permission) string {
	switch p {
	case PermWrite:
		return "write to"
	case PermAdmin:
		return "administer"
	}
	return "read"
}

// authorizeSelf checks this node's own call against its catalog replica.
// A denial is checked again once the replica has caught up with the
// catalog's leader: a grant may have been made elsewhere a moment ago.
func (n *Node) authorizeSelf(ctx context.Context, heap string, p Permission) error {
	return n.confirmSelf(ctx, heap, p, false)
}

// confirmSelf is authorizeSelf; with wait, for an open, a catalog with no
// leader in reach is asked again until ctx ends (catalogAgain), as the
// open's other calls on the catalog are, and a ctx that ends first is an
// error matching ErrNoQuorum and the context's (unanswered). A client's
// open asked once: it failed at the first leaderless timeout however long
// ctx had left, or with the context's error alone.
func (n *Node) confirmSelf(ctx context.Context, heap string, p Permission, wait bool) error {
	if privileged(n.cfg.Role) {
		return nil
	}
	err := n.authorize(n.cfg.Name, n.cfg.Role, heap, p)
	if err == nil || strings.HasPrefix(heap, systemPrefix) {
		return err
	}
	cat := n.catalog.Load()
	if cat == nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		rerr := cat.readIndex(ctx)
		if rerr == nil {
			return n.authorize(n.cfg.Name, n.cfg.Role, heap, p)
		}
		if wait && errors.Is(rerr, ErrNoQuorum) && catalogAgain(ctx, attempt) {
			continue
		}
		return unconfirmed(ctx, heap, p, rerr, wait)
	}
}

// unconfirmed is the error of a check of this node's grants that the
// catalog did not answer (rerr): the local grants may lag one just made,
// so a denial stands only once the catalog's latest state confirms it,
// and while no catalog leader answers it is no answer (ErrNoQuorum, or
// the context's end; for an open, both), never a permission error.
func unconfirmed(ctx context.Context, heap string, p Permission, rerr error, wait bool) error {
	if cerr := ctx.Err(); cerr != nil {
		if wait {
			return fmt.Errorf("%w: %s on heap %q not confirmed: the catalog's leader did not answer before the context ended: %w", ErrNoQuorum, p, heap, cerr)
		}
		return fmt.Errorf("oss: %s on heap %q not confirmed by the catalog before the context ended: %w", p, heap, cerr)
	}
	if errors.Is(rerr, ErrClosed) {
		return rerr
	}
	return fmt.Errorf("oss: %s on heap %q not confirmed: the catalog's latest grants cannot be read (%v): %w", p, heap, rerr, ErrNoQuorum)
}

// authorizeOpen checks that a client node may open a heap: read to open
// it, admin to create it. One that may read but not administer opens a
// heap that exists and is told it may not create one that does not: the
// mode it returns is the one to go on with. One that may read, by its
// catalog replica, a heap its replica lists opens it as Heap does,
// without asking the catalog for an admin grant it does not need.
func (n *Node) authorizeOpen(ctx context.Context, name string, mode heapMode) (heapMode, error) {
	if privileged(n.cfg.Role) {
		return mode, nil
	}
	switch mode {
	case openExisting:
		return mode, n.confirmSelf(ctx, name, PermRead, true)
	case createNew:
		return mode, n.confirmSelf(ctx, name, PermAdmin, true)
	}
	read := func() error { return n.authorize(n.cfg.Name, n.cfg.Role, name, PermRead) }
	if n.authorize(n.cfg.Name, n.cfg.Role, name, PermAdmin) != nil && read() == nil {
		if _, ok := n.catalogEntry(name); ok {
			return openExisting, nil
		}
	}
	admin := n.confirmSelf(ctx, name, PermAdmin, true)
	if admin == nil {
		return mode, nil
	}
	if !errors.Is(admin, ErrPermission) {
		return mode, admin // no answer from the catalog: no refusal either
	}
	if err := read(); err != nil {
		return mode, err
	}
	if _, err := n.findEntry(ctx, name); errors.Is(err, ErrNoHeap) {
		return mode, fmt.Errorf("oss: create heap %q: %w", name, admin)
	}
	return openExisting, nil
}

// authorizeWrite checks that this node may begin a read-write transaction
// on the heap: a client node needs write. The system heaps' own transactions (a heap's entry in
// the catalog) are checked by what they write, at the catalog's leader.
func (h *Heap) authorizeWrite(ctx context.Context, readOnly bool) error {
	n := h.node
	if readOnly || privileged(n.cfg.Role) || strings.HasPrefix(h.name, systemPrefix) {
		return nil
	}
	return n.authorizeSelf(ctx, h.name, PermWrite)
}

// authorizeJoin checks a peer's request to join a heap's group: a client
// needs read. The refusal goes back to the caller.
func (n *Node) authorizeJoin(from, heap string) error {
	role := n.peerRole(from)
	if role == pki.RoleServer {
		return nil
	}
	err := n.authorize(from, role, heap, PermRead)
	if err == nil && role != pki.RoleClient {
		err = fmt.Errorf("%w: %s %q is not a node", ErrPermission, roleName(role), from)
	}
	if err != nil {
		n.acl.joins.Add(1)
		n.noteRefusal("join refused", "peer", from, "heap", heap, "err", err)
	}
	return err
}

// cachedRole is peerRole, a server's remembered for roleTTL.
func (n *Node) cachedRole(name string) pki.Role {
	now := time.Now().UnixNano()
	if v, ok := n.acl.roles.Load(name); ok {
		if r := v.(roleSeen); now-r.at < int64(roleTTL) {
			return r.role
		}
	}
	role := n.peerRole(name)
	if role == pki.RoleServer {
		// Only a server's role is remembered: a node may be heard from
		// before it is known, and is then taken for a client.
		n.acl.roles.Store(name, roleSeen{role: role, at: now})
	}
	return role
}

// admits reports whether a raft message from a peer may be stepped into
// the heap's replica. No peer's MsgForgetLeader may. Servers' other
// messages all may, but a proposal to the catalog that writes a node
// record, which only the catalog's leader writes: that record is refused
// as a client's is (admitsServerCatalogProposal). From a client (a
// learner) it drops a message whose term is ahead of the replica's,
// what only a leader or a candidate sends, and
// proposals it may not make: a configuration change, a record that is a
// refusal (only a leader writes those) or, for the catalog, does not
// decode. A commit record the client may not make (to a heap it may not
// write; to the catalog, writing anything but the entry of a heap it
// administers) is refused: on the heap's leader, the message goes on
// with a refusal in the record's place (consistency.Refusal), which every
// replica decides Refused, so the proposer learns for certain that
// nothing was written; elsewhere it is dropped, and the client sends it
// again to the leader. Refusals are counted and logged at most every
// aclLogEvery.
func (n *Node) admits(from string, h *Heap, m *raftpb.Message) bool {
	if m.Type == raftpb.MsgForgetLeader {
		// Meant to be stepped locally (RawNode.ForgetLeader, which OSS
		// never calls), and RawNode takes it from the network as well:
		// any peer, a client reading the heap too, made a follower drop
		// its leader until the next heartbeat, again and again.
		n.acl.refused.Add(1)
		n.noteRefusal("raft MsgForgetLeader from a peer dropped: no node sends it", "peer", from, "heap", h.name)
		return false
	}
	if m.Term > h.term.Load() && n.cachedRole(from) != pki.RoleServer {
		// Raft steps a leader down for a higher term in any message, a
		// learner's answer or proposal too: a client's term is never
		// ahead of its group's.
		n.acl.refused.Add(1)
		n.noteRefusal("raft message from a client dropped: its term is ahead of the replica's", "peer", from, "heap", h.name, "type", m.Type, "term", m.Term)
		return false
	}
	if m.Type == raftpb.MsgReadIndex && !n.mayReadIndex(from, h) {
		return false
	}
	if m.Type != raftpb.MsgProp && !serversOnly(m.Type) {
		return true
	}
	role := n.cachedRole(from)
	if role == pki.RoleServer {
		if m.Type == raftpb.MsgProp && h.name == catalogName {
			return n.admitsServerCatalogProposal(from, h, m)
		}
		return true
	}
	var err error
	var refusals []raftpb.Entry
	switch {
	case role != pki.RoleClient:
		err = fmt.Errorf("%w: %s %q is not a node", ErrPermission, roleName(role), from)
	case m.Type != raftpb.MsgProp:
		err = fmt.Errorf("%w: client %q sent a %v, which only servers send", ErrPermission, from, m.Type)
	default:
		refusals, err = n.mayPropose(from, role, h, m.Entries)
	}
	if err == nil {
		return true
	}
	n.acl.refused.Add(1)
	if refusals != nil && h.leaderIs(h.self) {
		m.Entries = refusals
		n.noteRefusal("client proposal refused: a refusal goes to the log in its place", "peer", from, "heap", h.name, "err", err)
		return true
	}
	n.noteRefusal("raft message from a client dropped", "peer", from, "heap", h.name, "type", m.Type, "err", err)
	return false
}

// mayReadIndex reports whether a peer may ask the heap's replica for a
// read index: a server, or a client that may read the heap. The answer
// is only the group's commit index, but a client that may not read a
// heap learns nothing of it, its pace of commits included.
func (n *Node) mayReadIndex(from string, h *Heap) bool {
	role := n.cachedRole(from)
	if role == pki.RoleServer {
		return true
	}
	err := n.authorize(from, role, h.name, PermRead)
	if err == nil {
		return true
	}
	n.acl.refused.Add(1)
	n.noteRefusal("raft read-index request from a client dropped", "peer", from, "heap", h.name, "err", err)
	return false
}

// serversOnly reports whether only a voter (a leader, a candidate) sends
// a raft message of this type: a client's certificate makes it a learner
// at most, and a term it made up could otherwise depose a leader.
func serversOnly(t raftpb.MessageType) bool {
	switch t {
	case raftpb.MsgApp, raftpb.MsgSnap, raftpb.MsgHeartbeat, raftpb.MsgVote, raftpb.MsgPreVote,
		raftpb.MsgVoteResp, raftpb.MsgPreVoteResp, raftpb.MsgTimeoutNow, raftpb.MsgTransferLeader, raftpb.MsgReadIndexResp:
		return true
	}
	return false
}

// mayPropose checks the entries a client proposes to a heap. It returns
// nil if every one may go to the log. Otherwise it returns the first
// refusal and, if the message may go on with refusals in place of the
// records refused, those entries (a new slice: the message's may be
// shared with its sender); nil entries if the message is to be dropped
// whole: a configuration change, a refusal forged by the client, a
// record refused that does not decode (there is no transaction to
// refuse).
func (n *Node) mayPropose(from string, role pki.Role, h *Heap, ents []raftpb.Entry) ([]raftpb.Entry, error) {
	for _, e := range ents {
		if e.Type != raftpb.EntryNormal {
			return nil, fmt.Errorf("%w: client %q proposed a configuration change to heap %q", ErrPermission, from, h.name)
		}
	}
	var heapErr error
	if h.name != catalogName {
		heapErr = n.authorize(from, role, h.name, PermWrite)
	}
	st := h.state.Load()
	var out []raftpb.Entry
	var first error
	for i, e := range ents {
		if len(e.Data) == 0 && heapErr != nil {
			return nil, heapErr // no transaction to refuse, and nothing for the log
		}
		if len(e.Data) == 0 {
			continue
		}
		if heapErr == nil && h.name != catalogName {
			// Written as proposed: only a forged refusal is looked for.
			if consistency.IsRefusal(e.Data) {
				return nil, fmt.Errorf("%w: client %q proposed a refusal, which only a heap's leader writes", ErrPermission, from)
			}
			continue
		}
		rec, err := consistency.UnmarshalRecord(e.Data)
		switch {
		case err != nil && h.name == catalogName:
			return nil, fmt.Errorf("%w: client %q proposed a malformed catalog record: %v", ErrPermission, from, err)
		case err != nil:
			// No transaction to refuse; and a client that may not
			// write puts nothing in the log.
			return nil, fmt.Errorf("%w (and the record does not decode: %v)", heapErr, err)
		case rec.Refused:
			return nil, fmt.Errorf("%w: client %q proposed a refusal, which only a heap's leader writes", ErrPermission, from)
		}
		rerr := heapErr
		if h.name == catalogName {
			rerr = n.mayWriteCatalog(from, role, st, rec)
		}
		if rerr == nil {
			continue
		}
		if out == nil {
			first, out = rerr, slices.Clone(ents)
		}
		data, _ := consistency.Refusal(rec).Marshal() // never fails
		out[i] = raftpb.Entry{Type: raftpb.EntryNormal, Data: data}
	}
	return out, first
}

// mayWriteCatalog checks a client's catalog record: it may write only the
// entries of heaps it administers, and no root; an entry it creates must
// name the heap as a new heap may be named (newHeapName), or a client
// with admin on "game-*" could make "game-\u202eevil" with a build that
// skips the check.
func (n *Node) mayWriteCatalog(from string, role pki.Role, st *consistency.State, rec *consistency.Record) error {
	if len(rec.RootWrites) > 0 {
		return fmt.Errorf("%w: client %q may not set roots of the catalog", ErrPermission, from)
	}
	for _, w := range rec.Writes {
		name, ok := entryWritten(st, w)
		if !ok {
			return fmt.Errorf("%w: client %q may write only heap entries in the catalog, not object %v", ErrPermission, from, w.ID)
		}
		if err := n.authorize(from, role, name, PermAdmin); err != nil {
			return err
		}
		if _, exists := st.Get(w.ID); !w.Delete && !exists {
			// A new heap's entry: its name takes newHeapName's rules,
			// which the client's own checks may lack (an older or
			// modified build). An entry already there keeps its name.
			if err := newHeapName(name); err != nil { // catalog.go
				return fmt.Errorf("%w: client %q may not create heap %q: %w", ErrPermission, from, name, err)
			}
		}
		if !w.Delete && !votersKept(st, w) {
			if err := n.entryVotersBound(from, w.Value); err != nil {
				return err
			}
		}
	}
	return nil
}

// votersKept reports whether a heap entry a client writes replaces the
// entry st holds for that heap with the same name, group and first
// voters, as SetHeapReplicas writes it (its factor changed): those voters
// were taken at the heap's creation, and one restarted since under a new
// raft ID (in memory, or rebuilt) is no longer bound, which
// entryVotersBound would refuse. The voters compared are the entry st
// holds, the leader's catalog, not what the client says was there: a
// voter changed, added or left out is checked as a new entry's are.
func votersKept(st *consistency.State, w consistency.Write) bool {
	o, ok := st.Get(w.ID)
	if !ok {
		return false
	}
	was, ok := engine.DecodeEntry(o)
	if !ok {
		return false
	}
	var e heapEntry
	if codec.Unmarshal(w.Value, &e) != nil {
		return false
	}
	return e.Name == was.Name && e.Group == was.Group && slices.Equal(e.Voters, was.Voters)
}

// entryVotersBound checks the first voters of a heap entry a client
// writes: each must name a node as the catalog records it (its node
// record's raft ID, or a binding of another entry's voters), or, for a
// node the catalog does not know yet or whose record lags, as membership
// lists it live (listedAlone). The
// first voters bind the raft IDs no node record names (bindingsOf): a
// client that named a new server's raft ID, gossiped before the server
// registered, under another name had that server's join of the catalog
// refused for good.
func (n *Node) entryVotersBound(from string, value []byte) error {
	var e heapEntry
	if err := codec.Unmarshal(value, &e); err != nil {
		return fmt.Errorf("%w: client %q wrote a heap entry that does not decode: %v", ErrPermission, from, err)
	}
	b := n.committed()
	var live []peerInfo
	for _, v := range e.Voters {
		rec, recorded := b.recs[v.Name]
		name, bound := b.ids[v.ID]
		switch {
		case recorded && rec.ID == v.ID:
			continue
		case !recorded && bound && name == v.Name:
			continue
		case !bound && v.ID != 0:
			// A node the catalog does not know yet, or one whose record
			// lags (a server restarted empty, until its join moves the
			// record): a client's node draws voters from membership.
			if live == nil {
				live = n.live()
			}
			if listedAlone(live, v) {
				continue
			}
		}
		return fmt.Errorf("%w: client %q named raft ID %016x as node %q's among heap %q's first voters, which neither the catalog nor membership says",
			ErrPermission, from, v.ID, v.Name, e.Name)
	}
	return nil
}

// listedAlone reports whether live membership lists node v.Name under
// raft ID v.ID, and no node of another name under that ID (otherClaimant):
// the IDs are each member's own word.
func listedAlone(live []peerInfo, v groupMember) bool {
	i := slices.IndexFunc(live, func(p peerInfo) bool { return p.Name == v.Name && p.ID == v.ID })
	if i < 0 {
		return false
	}
	_, claimed := otherClaimant(live, v.ID, v.Name, live[i].Role == pki.RoleServer)
	return !claimed
}

// refusedError is the error of a commit that the heap's leader refused
// (consistency.Refused): this node lacked a permission when its record
// reached the leader, by the leader's catalog replica. Nothing was
// written, and no copy of the record will be.
func (h *Heap) refusedError() error {
	n := h.node
	if h.name == catalogName && n.cfg.Role == pki.RoleClient {
		return fmt.Errorf("%w: the catalog's leader refused the change of %s %q (a client writes only the entries of heaps it administers, naming as first voters nodes under the raft IDs the leader's catalog or membership gives them, and a new heap only under a name a new heap may have); nothing was written",
			ErrPermission, roleName(n.cfg.Role), n.cfg.Name)
	}
	if h.name == catalogName {
		// A server's record is refused only for writing a node record
		// (admitsServerCatalogProposal), which a catalog leader writes
		// and this node wrote as one: the lead had moved.
		return fmt.Errorf("%w: the catalog's leader refused %s %q's write of a node record, which only the catalog's leader makes: this node no longer led the catalog when its record reached the log; nothing was written",
			ErrPermission, roleName(n.cfg.Role), n.cfg.Name)
	}
	return fmt.Errorf("oss: heap %q's leader refused the commit; nothing was written: %w", h.name,
		&PermissionError{Who: n.cfg.Name, Role: n.cfg.Role, Heap: h.name, Perm: PermWrite})
}

// entryWritten returns the heap whose catalog entry a write creates,
// changes or deletes, as the catalog state st says; false if the write is
// not one of a heap entry (a grant, a system heap's, an object absent).
func entryWritten(st *consistency.State, w consistency.Write) (string, bool) {
	value := w.Value
	if w.Delete {
		o, ok := st.Get(w.ID)
		if !ok {
			return "", false
		}
		value = o.Value
	}
	var e heapEntry
	if codec.Unmarshal(value, &e) != nil || e.Name == "" || entryID(e.Name) != w.ID ||
		validHeapName(e.Name) != nil || strings.HasPrefix(e.Name, systemPrefix) {
		return "", false
	}
	return e.Name, true
}

// unreadable reports whether a heap's leader removes a learner from the
// group: a client, as its certificate (or, not connected, membership)
// says, that may no longer read the heap.
func (h *Heap) unreadable(id uint64) bool {
	n := h.node
	if h.name == catalogName {
		return false
	}
	name, ok := n.lookup(id)
	if !ok {
		return false
	}
	var role pki.Role
	if id, ok := n.peerIdentity(name); ok {
		role = id
	} else {
		for _, p := range n.directory().live() {
			if p.Name == name {
				role = p.Role
			}
		}
	}
	return role == pki.RoleClient && n.authorize(name, role, h.name, PermRead) != nil
}

// peerIdentity returns a connected peer's role from its certificate.
func (n *Node) peerIdentity(name string) (pki.Role, bool) {
	if n.quic == nil {
		return "", false
	}
	id, ok := n.quic.PeerIdentity(name)
	return pki.Role(id.Role), ok
}

// noteRefusal logs a refusal if none was logged in the last aclLogEvery.
func (n *Node) noteRefusal(msg string, args ...any) {
	now := time.Now().UnixNano()
	if last := n.acl.warned.Load(); (last == 0 || now-last >= int64(aclLogEvery)) && n.acl.warned.CompareAndSwap(last, now) {
		args = append(args, "refused", n.acl.refused.Load(), "joinsRefused", n.acl.joins.Load())
		n.log.Warn(msg, args...)
	}
}
