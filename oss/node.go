package oss

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport"
	"go.etcd.io/raft/v3"
)

// Node is one OSS process's membership in a cluster: it holds local
// replicas of the heaps it opened. A Node is safe for concurrent use.
type Node struct {
	cfg    *Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the node's own goroutines
	// openFault, set by tests before the call, replaces the join of a heap
	// opened after its catalog entry was found or made.
	openFault func() error
	// replicaFault, set by tests before the call, replaces the open of the
	// replica of a heap whose catalog entry was found or made.
	replicaFault func() error
	// restoreDropFault, set by tests before the call, replaces the catalog
	// transaction of the drop of a heap a failed restore created
	// (dropRestored) with its error.
	restoreDropFault func() error
	// entryTried, set by tests before the call, hears the outcome of each
	// try of ensureEntry to write a heap's catalog entry.
	entryTried func(error)
	// cluster is the cluster's ID as the node started (cluster.go); the
	// membership's is the current one. keepCluster keeps an ID taken from
	// peers in the data directory.
	cluster     uint64
	keepCluster func(uint64)
	// keepNew is a new node's identity (its NODE_ID, and the CLUSTER it
	// drew to bootstrap), written once its network is up and before it
	// announces itself (keepIdentity, newidentity.go): a start that fails
	// before (a --listen port taken or out of range) leaves a data
	// directory that a start with Join takes, where a drawn CLUSTER would
	// have it refused as another cluster's. nil once written, or if
	// there is nothing to write.
	keepNew *newIdentity
	// made is what this start wrote of a durable node's identity that its
	// data directory did not hold, taken back by a start that fails
	// before any cluster admitted the node (unadmitted.go); nil without a
	// durable data directory.
	made *madeIdentity
	// resetKey is the transport's stateless reset key, kept in the data
	// directory (resetkey.go); nil to derive it from the node's key.
	resetKey []byte
	// startFailed is set as Start closes the node it failed to start:
	// the close takes back made's files before it releases the lock.
	startFailed atomic.Bool
	// addressed is set once a peer's raft message or snapshot for the
	// node's raft ID arrived (route): a group may hold the ID.
	addressed atomic.Bool
	// peers is the book of servers' addresses in a durable node's data
	// directory (peerbook.go); nil without one.
	peers *peerBook

	// id is the node's raft ID in every group. It is new at every start:
	// a node that lost its state must not vote as the replica it was.
	id      uint64
	leaving atomic.Bool // handing replicas over before it leaves
	// logStopped is done once a replica found the node's log stopped
	// (stepAside).
	logStopped sync.Once
	lock       *os.File // the data directory's lock; nil without one
	// stripeLocks are the locks of the stripe directories outside the data
	// directory (Config.StripeDirs), taken with lock.
	stripeLocks []*os.File
	disk        *disk // nil in memory mode
	// catalogGate is what the catalog replica applies, after a restart,
	// before the node acts on its heap directory (catgate.go).
	catalogGate catalogGate
	// catalogSynced is the highest catalog index the node has acted on:
	// heaps dropped closed, heaps placed here opened.
	catalogSynced atomic.Uint64

	limits   sizeLimits  // every byte limit, derived from the config
	oversize oversizeLog // raft messages the transport refused for size
	// joinRefusals are the joins this node refused as a leader, by heap
	// and caller, for the log (peercall.go).
	joinRefusals refusalLog
	// malformed are the raft messages peers sent that did not decode, by
	// peer, for the log (replication.go).
	malformed refusalLog
	// reRegistered are the new raft IDs this node, leading the catalog,
	// registered, by name (identity.go).
	reRegistered registrations

	quic *transport.QUIC     // nil without Listen
	tr   transport.Transport // node-to-node traffic; nil without a network
	// reached is set once a peer's message, call or stream arrived: a
	// join that leaders took while none did points at the address the
	// node advertises (joinHeard).
	reached atomic.Bool
	// starting is set while startNetwork has its endpoint serving and
	// membership not yet started: a peer's call or stream is refused for
	// now (nodeHandler), since serving one reads members, quic and what
	// startNetwork writes meanwhile.
	starting atomic.Bool
	members  *membership  // nil without Listen
	dir      atomic.Value // of dirHolder: set while messages may arrive

	ident        identities // what the catalog says raft IDs are
	forgedWarned atomic.Int64

	namesMu sync.Mutex // protects following fields
	names   map[uint64]string
	missing map[uint64]time.Time // since when a node ID has been seen missing
	wasLive map[uint64]bool      // node IDs this node has seen in its live set
	left    map[uint64]bool      // node IDs that left gracefully and were not seen since

	mu      sync.Mutex           // protects following fields
	catalog atomic.Pointer[Heap] // the catalog replica, set once at start
	// recovered is set once the replicas recovered from disk are open:
	// until then a message for one must not open an empty replica under
	// the node's raft ID (a member that forgot its log and its votes).
	recovered atomic.Bool
	heaps     map[string]*Heap
	opening   map[string]chan struct{} // closed when an open under way (openOnce) ends
	// retired are the groups whose replica the node retired (retire.go),
	// each with the last index its retired replica held.
	retired map[groupKey]uint64
	// retiredHook, set by tests, hears of each replica retired, once its
	// record is written and before opens of its heap go on.
	retiredHook func(*Heap)
	// dropLoggedHook, set by tests, hears of each replica whose drop the
	// log has recorded, before the store drops its space.
	dropLoggedHook func(*Heap)
	// retireRefusedHook, set by tests, hears of each retirement due and
	// not done (retireRefused).
	retireRefusedHook func(h *Heap, why string)
	closed            bool
	stopping          bool
	stopped           chan struct{}      // closed when the stop under way has ended
	cutStop           context.CancelFunc // ends the graceful part of that stop

	snapIn snapshotIntake // snapshots being received
	acl    aclState       // grants and refusals; see acl.go

	lc lifecycle // certificates: revocations, expiry (revoke.go, lifecycle.go)

	met *nodeMetrics // histograms and counters observed as they happen (metrics.go)

	diskOps *diskOps // the data directory's operations under way, set at start (diskwatch.go)
}

// Start validates cfg, fills in its defaults and starts a node. A nil cfg
// means all defaults: a single in-memory node. ctx bounds the start only;
// the node runs until Close.
//
// A cfg it refuses returns an error that names every setting refused and
// matches ErrInvalidArgument, before anything starts. A data directory
// that fails its checks returns an error matching ErrCorrupt, one locked
// by a running node an error saying so, and a join the cluster refused
// for good one matching ErrJoinRefused.
func Start(ctx context.Context, cfg *Config) (*Node, error) {
	c := populate(cfg)
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg:     c,
		log:     c.Logger.With("node", c.Name),
		ctx:     nctx,
		cancel:  cancel,
		heaps:   make(map[string]*Heap),
		names:   make(map[uint64]string),
		missing: make(map[uint64]time.Time),
		wasLive: make(map[uint64]bool),
		left:    make(map[uint64]bool),
		id:      newNodeID(),
		limits:  deriveLimits(c),
		met:     newNodeMetrics(c.Name),
	}
	n.setDirectory(selfDirectory{n})
	n.learn(n.id, c.Name)
	if c.DataDir != "" {
		if err := n.openDataDir(); err != nil {
			cancel()
			return nil, err
		}
	}
	join := len(c.Join) > 0
	if n.cluster == 0 && !join && n.disk == nil {
		n.cluster = newNodeID() // kept in memory only, as everything else
	}
	switch {
	case c.Transport != nil:
		if err := n.attach(c.Transport); err != nil {
			return nil, n.failedStart(err, true)
		}
	case c.Listen != "":
		if err := n.startNetwork(ctx); err != nil {
			return nil, n.failedStart(n.otherClusterHint(err), true)
		}
	}
	// A node without a network writes it here (keepIdentity does nothing
	// the second time).
	if err := n.keepIdentity(); err != nil {
		return nil, n.failedStart(err, true)
	}
	if err := n.openCatalog(ctx, join); err != nil {
		return nil, n.failedStart(err, !isNotOwnID(err))
	}
	n.made.keep()
	n.startLifecycle()
	if n.diskOps != nil {
		n.wg.Go(n.watchDiskStall)
	}
	return n, nil
}

// openDataDir locks the data directory (on the operating system's file
// system) and, unless the node keeps nothing on disk, opens the log and
// the store in it.
//
// Stripe directories the store would refuse are refused before anything
// is written anywhere (lockDirs, checkStripeDirs): not a lock file, not
// the log.
func (n *Node) openDataDir() error {
	c := n.cfg
	var lock *os.File
	fsys := c.FS
	_, onOS := fsys.(persist.OS)
	if onOS = onOS || fsys == nil; onOS {
		fsys = persist.OS{}
	}
	// A FaultFS over the operating system's file system (tests) holds
	// its directories there too, and locks them as a node does.
	if f, ok := fsys.(*persist.FaultFS); ok {
		_, onOS = f.FS.(persist.OS)
	}
	n.diskOps = &diskOps{}
	fsys = watchFS(fsys, n.diskOps)
	durable := c.Durability != DurabilityMemory
	check := func() error {
		if !durable {
			return nil
		}
		return checkStripeDirs(fsys, c.DataDir, c.StripeDirs)
	}
	if onOS {
		var stripes []string
		if durable {
			stripes = c.StripeDirs
		}
		var err error
		if lock, n.stripeLocks, err = lockDirs(c.DataDir, stripes, check); err != nil {
			return err
		}
	} else if err := check(); err != nil {
		return err
	}
	if !durable {
		if err := notDurableData(fsys, c.DataDir); err != nil {
			if lock != nil {
				lock.Close()
			}
			return err
		}
	}
	n.lock = lock
	if durable {
		if err := n.openDisk(fsys, c.DataDir); err != nil {
			n.takeBack() // a NODE_NAME it wrote
			if lock != nil {
				closeLocks(append(n.stripeLocks, lock))
			}
			return err
		}
		n.learn(n.id, c.Name)
		n.peers = openPeerBook(fsys, c.DataDir, c.Name, n.log)
	}
	return nil
}

func newNodeID() uint64 {
	for {
		if id := rand.Uint64(); !reservedID(id) {
			return id
		}
	}
}

// reservedID reports whether a raft ID is none a node may run under: 0
// (raft's None) and the IDs raft gives its own storage threads
// (raft.LocalAppendThread, raft.LocalApplyThread), whose messages raft
// steps as its storage's word.
func reservedID(id uint64) bool { return id == raft.None || raft.IsLocalMsgTarget(id) }

// openCatalog opens the node's replica of the catalog: a new one-node
// cluster's, or, with join, the cluster's, as a learner first.
func (n *Node) openCatalog(ctx context.Context, join bool) error {
	o := openMode{bootstrap: !join, replicas: catalogReplicas}
	if n.disk != nil {
		if g := n.disk.recovered[groupKey{heap: catalogName}]; g != nil {
			// A restart: the node is a member already.
			o = openMode{recovered: g, replicas: catalogReplicas}
			// Until the catalog has applied its whole recovered log, its
			// directory may not yet list heaps recovered with it (a
			// commit index alone is not logged).
			n.catalogGate.recovered(g)
			join = false
		}
	}
	h, err := newHeap(n, catalogName, o)
	if err != nil {
		return err
	}
	n.catalog.Store(h)
	if err := n.openRecovered(); err != nil {
		return err
	}
	if g := o.recovered; g != nil {
		if err := n.checkOwnID(ctx, h, max(g.hard.Commit, g.snap.Metadata.Index)); err != nil {
			return err
		}
	}
	n.recovered.Store(true)
	if o.bootstrap && n.tr != nil {
		n.atCatalogStep("register", h)
		rctx, cancel := context.WithTimeout(ctx, joinTimeout)
		err := n.register(rctx)
		cancel()
		if err != nil {
			return catalogLost(h, err)
		}
	}
	if join {
		n.atCatalogStep("join", h)
		if err := n.joinCatalog(ctx, h); err != nil { // startjoin.go
			return catalogLost(h, err)
		}
	}
	if n.cfg.catalogOpened != nil {
		n.cfg.catalogOpened(h)
	}
	w, err := h.Watch(nil)
	if err != nil {
		return catalogLost(h, err)
	}
	n.wg.Go(func() { n.watchCatalog(w) })
	n.syncPassed() // a gate passed before the recovered replicas opened
	if n.disk != nil {
		n.wg.Go(n.compactor)
	}
	return nil
}

// atCatalogStep calls Config.catalogStep, if set (tests).
func (n *Node) atCatalogStep(step string, h *Heap) {
	if n.cfg.catalogStep != nil {
		n.cfg.catalogStep(step, h)
	}
}

// catalogLost is err, the error of a step of Start on the catalog's
// replica (registering the node, joining, watching), or, if the replica
// was lost meanwhile, why it was (a log that lost what it acknowledged:
// ErrCorrupt, saying what to do). Whatever the step saw of the loss
// (ErrClosed, a commit's outcome left unknown, a join's context that ran
// out), the loss is what Start says: a stranger told "closed" or "cannot
// reach the cluster's catalog" retries for ever on damaged data. A
// replica that runs, or was closed without loss, leaves err as it is.
func catalogLost(h *Heap, err error) error {
	h.watchMu.Lock() // the loop sets lost before it closes the replica under watchMu
	closed := h.closed
	h.watchMu.Unlock()
	if !closed {
		return err
	}
	<-h.done // and writes nothing after its end
	if h.lost == nil {
		return err
	}
	return fmt.Errorf("oss: the catalog's replica: %w", h.lost)
}

// joinTimeout bounds each attempt to join the cluster's catalog (see
// Config.JoinRetry).
const joinTimeout = 30 * time.Second

// startNetwork opens the QUIC endpoint and joins the cluster over it.
func (n *Node) startNetwork(ctx context.Context) error {
	c := n.cfg
	if err := checkOwnRole(c.TLS.CertPEM, c.Role); err != nil {
		return err
	}
	n.starting.Store(true) // before the endpoint serves; cleared once membership runs
	q, err := transport.NewQUIC(&transport.QUICConfig{
		Name: c.Name, Listen: c.Listen, PacketConn: c.PacketConn,
		CertPEM: c.TLS.CertPEM, KeyPEM: c.TLS.KeyPEM, CAPEM: c.TLS.CAPEM,
		// The endpoint adds node= to its logger itself: given n.log,
		// every line of it carried node= twice.
		Handler: nodeHandler{n}, Logger: c.Logger, MaxFrame: c.MaxFrameBytes,
		Revoked: n.revokedPeer, ResetKey: n.resetKey,
	})
	if err != nil {
		return fmt.Errorf("oss: %w", err)
	}
	n.quic = q
	n.tr = q
	// Its identity is on disk before the cluster's ID is announced (as
	// the transport's group, in membership) or sent (a join): a peer that
	// took a drawn ID the node then lost would be refused by the node's
	// next bootstrap, of another ID.
	if err := n.keepIdentity(); err != nil {
		return err
	}
	// A node of another cluster, of one of this cluster's names, holds
	// none of them here (transport: checkUnique).
	q.SetGroup(n.cluster)
	advertise := c.Advertise
	if advertise == "" {
		advertise = q.Addr().String()
	}
	n.members, err = startMembership(memberConfig{
		name: c.Name, id: n.id, role: c.Role, quic: q, advertise: advertise,
		fast: c.Gossip == GossipLoopback, logger: n.log, known: n.knownServers(),
		cluster: n.cluster, adoptCluster: n.adoptCluster, tune: c.tuneGossip,
		onEvent: func(e memberEvent) {
			if e.Kind == memberJoined || e.Kind == memberUpdated {
				q.SetPeer(e.Member.Name, e.Member.Addr)
			}
			if n.peers != nil {
				n.peers.note(e)
			}
			if e.Kind == memberLeft && e.id != 0 && e.id != n.id {
				n.noteLeft(e.id) // directory.go
			}
			if e.Kind == memberJoined && e.id != 0 {
				n.noteBack(e.id) // directory.go
			}
			if e.Kind != memberUpdated {
				n.log.Info("member "+e.Kind.String(), "member", e.Member.Name, "addr", e.Member.Addr)
			}
			if c.onMemberEvent != nil {
				c.onMemberEvent(e)
			}
		},
	})
	if err != nil {
		return err
	}
	n.setDirectory(n.members)
	n.starting.Store(false)
	if err := ctx.Err(); err != nil {
		return err
	}
	return n.joinMembers(ctx, advertise) // startjoin.go
}

// attach puts the node on an in-process network (Config.Transport), whose
// membership records stand in for gossip.
func (n *Node) attach(nw transport.Network) error {
	tr, err := nw.Attach(n.cfg.Name, nodeHandler{n})
	if err != nil {
		return fmt.Errorf("oss: attach to the network: %w", err)
	}
	n.tr = tr
	n.setDirectory(netDirectory{n, nw})
	if err := n.keepIdentity(); err != nil { // before the node is announced
		return err
	}
	n.announce()
	return nil
}

// Addr returns the address of the node's QUIC endpoint, or "" if the node
// does not listen.
func (n *Node) Addr() string {
	if n.quic == nil {
		return ""
	}
	return n.quic.Addr().String()
}

// Members returns the live members of the cluster, this node included. A
// node with neither Listen nor Transport is alone. A closed node lists
// none (nil): it is a member of nothing, and a running node always lists
// itself.
func (n *Node) Members() []Member {
	if n.isClosed() {
		return nil
	}
	if d, ok := n.directory().(netDirectory); ok {
		return d.members()
	}
	if n.members == nil {
		return []Member{{Name: n.cfg.Name, Role: n.cfg.Role, Version: Version()}}
	}
	ms := n.members.members()
	for i := range ms {
		// The certificate's role, not the one announced in membership.
		if role, ok := n.peerIdentity(ms[i].Name); ok {
			ms[i].Role = role
		}
	}
	return ms
}

// nodeHandler receives what peers send the node: raft messages for the
// heaps it holds. Calls and streams arrive with replica management.
type nodeHandler struct{ n *Node }

// markReached sets n.reached, reading it first: every message passes
// here, and a store on each would write the flag's cache line, shared
// by the cores that handle messages, once it is set for good.
func (h nodeHandler) markReached() {
	if !h.n.reached.Load() {
		h.n.reached.Store(true)
	}
}

func (h nodeHandler) HandleMessage(from string, msg []byte) {
	h.markReached()
	h.n.receive(from, msg)
}

func (h nodeHandler) HandleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	h.markReached()
	if h.n.starting.Load() {
		return nil, h.n.errStarting()
	}
	return h.n.handleCall(ctx, from, req)
}

func (h nodeHandler) HandleStream(ctx context.Context, from string, header []byte, body io.Reader) error {
	h.markReached()
	if h.n.starting.Load() {
		return h.n.errStarting()
	}
	return h.n.receiveSnapshot(ctx, from, header, body)
}

// errStarting answers a call or stream that came while the node's
// endpoint served and its membership was not yet started: the caller
// asks again, or another node. Served then, a call read the membership
// startNetwork was writing (a data race, seen by the race detector in a
// join across clusters).
func (n *Node) errStarting() error {
	return fmt.Errorf("oss: node %q is starting; try again", n.cfg.Name)
}

// advertised returns the address the node advertises to its peers over
// QUIC (Config.Advertise, or the one its endpoint bound), "" on another
// transport.
func (n *Node) advertised() string {
	if n.members == nil || n.quic == nil {
		return ""
	}
	return n.members.cfg.advertise
}

// reachedAt returns the address peers reach the node at, the one
// membership lists it at: the advertised one (Config.Advertise), else
// the one its endpoint bound; "" without QUIC. A join and the node's
// catalog record carry it (callRequest.Addr, nodeRecord.Addr), and the
// catalog's leader compares it with membership's (liveNameRefusal). The
// socket's address (Addr) was sent until 2026-12-06: [::]:7400 for a
// node listening on every address and advertising another, never the
// one membership lists, so such a node restarted without its data at its
// address, before membership saw its old process gone, was pinged there,
// answered itself, and was refused for good as already live.
func (n *Node) reachedAt() string {
	if a := n.advertised(); a != "" {
		return a
	}
	return n.Addr()
}

// Context returns a context that is cancelled when the node closes.
func (n *Node) Context() context.Context { return n.ctx }

// Name returns the node's name (Config.Name, or the one it was given by
// default), as its metrics label it.
func (n *Node) Name() string { return n.cfg.Name }

// HeapOptions configure a heap that CreateHeap or CreateHeapIfNotExists
// creates. A nil *HeapOptions means the defaults.
type HeapOptions struct {
	// Replicas is the number of voters the heap keeps, placed on server
	// nodes by rendezvous hashing; other nodes that open it are learners.
	// From 1 to 9. If zero, Config.Replicas. A group keeps an odd number
	// of voters (a group of two loses its quorum with either), so an even
	// number is one voter fewer: 2 is 1, 4 is 3. Node.SetHeapReplicas
	// changes it later.
	Replicas int
}

// Heap opens an existing heap and keeps a local replica of it on this
// node: as one of its voters if placement chose this node, otherwise as a
// learner. It returns an error matching ErrNoHeap if no heap of that name
// exists: a heap created on another node is found as soon as its creation
// has committed, since a name the local catalog replica does not know is
// looked up again after a read of the catalog's leader. A heap dropped
// on another node a moment ago whose replica this node still keeps open
// is not looked up: Heap returns the handle until the local catalog
// replica applies the drop (see DropHeap).
//
// Heap returns once the replica is a member of the heap's group and has
// applied everything committed when Heap was called. Opening the same
// name again returns the same *Heap at once: a replica cut off from its
// group may then be behind (see Heap.View and Heap.Stats); if the group
// removed it meanwhile, it rejoins by itself once it can reach the group,
// and the handle works again. A replica the node opened by itself (a
// first voter of a heap created elsewhere) catches up at its first open
// as any other. If the node's replica was lost while it ran (its log lost
// what it had acknowledged, or it could not apply what its leader sent),
// Heap returns the loss, which says how to rebuild it: an error matching
// ErrCorrupt when the node's data is damaged.
//
// Opening a heap for the first time on the node, creating one and looking
// up a name the local catalog replica does not know need the catalog's
// leader. While no leader of the catalog is in reach (its group electing
// one, or this node cut off), Heap, CreateHeap and CreateHeapIfNotExists
// ask again, with a growing pause, until one answers or ctx ends: with a
// ctx that never ends they wait as long as the cut lasts. When ctx ends
// first they return an error matching ErrNoQuorum, never ErrNoHeap; a
// creation that proposed its entry before the cut began and never learned
// its outcome returns one matching ErrCommitUnknown (the heap may exist).
// An open whose ctx ends while it waits for the heap's own group, with no
// leader of it in reach (none took the replica in, or answered its
// catch-up), returns an error matching ErrNoQuorum and ctx's error.
func (n *Node) Heap(ctx context.Context, name string) (*Heap, error) {
	return n.openHeap(ctx, name, openExisting, nil)
}

// CreateHeap creates a heap and opens it as Heap does. It returns an error
// matching ErrHeapExists, and no handle, if a heap of that name exists. A
// creation whose outcome was unknown is tried again, as
// CreateHeapIfNotExists tries it: a later try that finds the entry the
// unknown one proposed has created the heap, and one that finds another
// node's entry after it returns an error matching ErrCommitUnknown, not
// ErrHeapExists.
func (n *Node) CreateHeap(ctx context.Context, name string, opts *HeapOptions) (*Heap, error) {
	return n.openHeap(ctx, name, createNew, opts)
}

// CreateHeapIfNotExists opens a heap as Heap does, creating it with opts
// first if it does not exist; opts are ignored for a heap that exists. The
// check and the creation are one transaction on the catalog, so processes
// that race to create a heap all open the same one, created once. It is
// the call for an application that creates its heaps on first use. A
// creation whose outcome was unknown is tried again; if the call still
// fails, its error matches ErrCommitUnknown (the heap may exist), never
// ErrNoQuorum alone. A heap this call created that it then could not open
// is ErrCreatedNotOpen, as for CreateHeap. The call created the heap if
// one of its tries wrote the catalog entry that a try found: a try whose
// outcome was unknown counts once a later try finds the entry it
// proposed, which every try draws anew (a heap another node created
// meanwhile has another entry). A heap this call found and did not create
// that it could not open returns the open's error.
func (n *Node) CreateHeapIfNotExists(ctx context.Context, name string, opts *HeapOptions) (*Heap, error) {
	return n.openHeap(ctx, name, openOrCreate, opts)
}

// heapMode says what openHeap does about a heap missing from the catalog,
// or present in it.
type heapMode uint8

const (
	openExisting heapMode = iota // missing: ErrNoHeap
	createNew                    // present: ErrHeapExists
	openOrCreate
)

func (n *Node) openHeap(ctx context.Context, name string, mode heapMode, opts *HeapOptions) (*Heap, error) {
	if err := validHeapName(name); err != nil {
		return nil, err
	}
	if strings.HasPrefix(name, systemPrefix) {
		return nil, fmt.Errorf("%w %q: the prefix %q is reserved", ErrInvalidHeapName, name, systemPrefix)
	}
	if err := n.Damage(); err != nil {
		return nil, err
	}
	mode, err := n.authorizeOpen(ctx, name, mode)
	if err != nil {
		return nil, err
	}
	replicas := n.cfg.Replicas
	if opts != nil && opts.Replicas != 0 {
		if opts.Replicas < 1 || opts.Replicas > 9 {
			return nil, fmt.Errorf("%w: heap %q: HeapOptions.Replicas %d is not between 1 and 9", ErrInvalidArgument, name, opts.Replicas)
		}
		replicas = opts.Replicas
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n.isClosed() {
		return nil, ErrClosed
	}
	created := false
	var group uint64 // the group of the entry this call created
	others := 0      // tries that found another heap of the name in the table
	for {
		h, eg, entered, made, err := n.openEntry(ctx, name, mode, replicas)
		if made || entered && mode == createNew {
			created, group = true, eg
		}
		if created && (h != nil && h.group != group || errors.Is(err, errOtherHeap)) {
			// The entry this call created was dropped while its group
			// was joined, and another caller created the name again
			// since: that heap is not this call's to hand out (nor,
			// for RestoreHeap, to write into or drop).
			return nil, &createdNotOpen{group: group, err: fmt.Errorf("oss: heap %q: %w, but it was dropped while it opened, and another heap of the name was created since: not opened", name, ErrCreatedNotOpen)}
		}
		if errors.Is(err, errOtherHeap) {
			// The catalog has another heap of the name now, or a node
			// restarting has not caught up with it yet: read it again.
			if !catalogAgain(ctx, others) {
				// As for a catalog without a leader in reach: ErrNoQuorum
				// and ctx's error, which Heap promises when ctx ends.
				return nil, fmt.Errorf("oss: heap %q: %w: this node's catalog replica had not caught up with the catalog (%v) when the context ended: %w", name, ErrNoQuorum, err, ctx.Err())
			}
			others++
			continue
		}
		if err != nil && n.droppedUnder(name, h, err) {
			// The catalog replica, catching up, closed the replica as
			// dropped: a stale entry's (the node restarted behind its
			// catalog), or a stale replica's that the entry this call
			// created found in the node's table. Open what the catalog
			// has now (what this call created, or nothing).
			if created {
				mode = openExisting
			}
			continue
		}
		if err != nil && created {
			return nil, createdErr(name, group, err)
		}
		if err != nil {
			return nil, err
		}
		h.catchUp.Store(false) // caught up
		return h, nil
	}
}

// createdErr is openHeap's error for a call that created the entry of
// group group and could not open the heap: err, the open's, would say it
// was not created. The group goes with it: RestoreHeap drops that group
// and no other, and must not tell its caller to drop the name by hand.
func createdErr(name string, group uint64, err error) error {
	if errors.Is(err, ErrNoHeap) {
		// The entry was dropped while its group was joined, and the
		// name has no heap now.
		return &createdNotOpen{group: group, err: fmt.Errorf("oss: heap %q: %w, but it was dropped while it opened: not opened", name, ErrCreatedNotOpen)}
	}
	// The entry committed: the heap exists, whatever stopped its open here.
	return &createdNotOpen{group: group, err: fmt.Errorf("oss: heap %q: %w; open it with Heap (%v)", name, ErrCreatedNotOpen, err), open: err}
}

// createdNotOpen is openHeap's ErrCreatedNotOpen with the group of the
// entry it created (RestoreHeap drops that group, and no other) and,
// when the open failed, the open's error.
type createdNotOpen struct {
	group uint64
	err   error
	open  error
}

func (e *createdNotOpen) Error() string { return e.err.Error() }
func (e *createdNotOpen) Unwrap() error { return e.err }

// openEntry opens a heap once, as openHeap says: the node's replica if it
// has one, otherwise the catalog's entry, found or created as mode says,
// and the group joined. entered says the entry was found or created, made
// that this call created it, and group is that entry's group. On an error
// after the entry, h is the replica opened for it, nil if its open failed
// (group is still the entry's).
func (n *Node) openEntry(ctx context.Context, name string, mode heapMode, replicas int) (h *Heap, group uint64, entered, made bool, err error) {
	if mode != createNew {
		if h, err := n.openedReplica(ctx, name); h != nil || err != nil {
			return h, 0, false, false, err
		}
	}
	var e heapEntry
	if mode == openExisting {
		e, err = n.findEntry(ctx, name)
	} else {
		e, made, err = n.ensureEntry(ctx, name, replicas, mode == createNew)
	}
	if err != nil {
		return nil, 0, false, false, err
	}
	if f := n.replicaFault; f != nil {
		err = f()
	} else {
		h, err = n.openReplica(e)
		if err == nil && h.group != e.Group && n.closedAsStale(name, h) {
			// The node's table held an earlier heap of the name, which a
			// catalog sync of a state before its drop had opened after the
			// drop's sync: closed now, e's replica is opened.
			h, err = n.openReplica(e)
		}
	}
	if err != nil {
		return nil, e.Group, true, made, err
	}
	if h.group != e.Group {
		// The catalog has moved on from e: another heap of the name.
		return nil, e.Group, true, made, fmt.Errorf("oss: heap %q: %w", name, errOtherHeap)
	}
	// Before the join: a learner no application uses asks to be removed
	// (unused.go), and one that took long to catch up could otherwise
	// ask during its own open; a request it made is withdrawn.
	h.used.Store(true)
	n.withdrawDecline(ctx, h)
	if cur, ok := n.catalogEntry(name); !ok || cur.Group != e.Group {
		// The catalog replica applied the drop between the read of the
		// entry and the open, and its sync ran before the replica was
		// in the node's table: nothing else would close it, and the
		// join below would wait for a group that is gone until ctx
		// ended. Synced now, it is closed as dropped, and openHeap
		// reads the catalog again.
		n.syncCatalog()
	}
	if f := n.openFault; f != nil {
		err = f()
	} else {
		err = n.joinGroup(ctx, h, e.Voters)
	}
	return h, e.Group, true, made, err
}

// errOtherHeap says an open found, in the node's table, a replica of
// another heap of the name than the catalog entry it read: the name was
// dropped and created again meanwhile. openHeap reads the catalog again.
var errOtherHeap = errors.New("the catalog holds another heap of the name now")

// closedAsStale reports whether h, the node's replica of name, was of a
// heap the catalog has dropped or replaced, and closes it if so. A catalog
// sync that loaded its state before a heap's drop can open the heap's
// replica after the drop's own sync ran: it stays in the node's table until
// the catalog's next change, and an open must not hand it out. The sync
// here closes it exactly when the next one would have. A replica found
// to be the entry's is not looked at again until the catalog changes:
// Heap on an open heap decoded the entry at each call (ten times the
// call's time, a dozen allocations), and the admin interface calls it on
// every request.
func (n *Node) closedAsStale(name string, h *Heap) bool {
	st := n.catalog.Load().state.Load()
	if at := st.Index(); at != 0 && h.entryAt.Load() == at {
		return false
	}
	if cur, ok := entryIn(st, name); ok && cur.Group == h.group {
		h.entryAt.Store(st.Index())
		return false
	}
	n.syncCatalog()
	return n.replicaOf(name) != h
}

// droppedUnder reports whether an open failed because its replica h was
// closed as dropped (taken out of the node's table, the node running and
// the replica not lost) rather than for the node's close.
func (n *Node) droppedUnder(name string, h *Heap, err error) bool {
	return h != nil && errors.Is(err, ErrClosed) && n.replicaOf(name) != h && !n.isClosed() && h.lostErr() == nil
}

// openedReplica returns the node's replica of a heap if it has one in the
// group's configuration, once it has caught up if no open has yet, and
// nil if it has none: the open goes through the catalog. A replica lost
// while the node ran stays in the node's table until the node is rebuilt
// (loseReplica): it is no replica to hand out, and its open fails with
// the loss.
func (n *Node) openedReplica(ctx context.Context, name string) (*Heap, error) {
	h := n.replicaOf(name)
	if h == nil || h.cataloged && n.closedAsStale(name, h) {
		return nil, nil
	}
	if err := h.lostErr(); err != nil {
		if errors.Is(err, ErrCorrupt) { // it says what to do
			return nil, fmt.Errorf("oss: heap %q: this node's replica of it was lost: %w", name, err)
		}
		return nil, fmt.Errorf("oss: heap %q: this node's replica of it was lost (%w); restart the node to rebuild it from its peers", name, err)
	}
	if !h.inConf.Load() {
		return nil, nil
	}
	h.used.Store(true)
	n.withdrawDecline(ctx, h)
	if h.catchUp.Load() {
		// Recovered from disk, or opened by the node itself (a first
		// voter, a replica a leader added) and not yet by a caller:
		// what its group committed may not be applied yet.
		if err := h.waitCaughtUp(ctx); err != nil {
			if errors.Is(err, ErrClosed) && n.replicaOf(name) != h && !n.isClosed() {
				// Dropped as the catalog replica caught up (the heap was
				// dropped while the node was down): the catalog says
				// which heap of that name there is now, if any.
				return nil, nil
			}
			return nil, err
		}
		h.catchUp.Store(false)
	}
	return h, nil
}

// DropHeap removes a heap from the catalog; every node closes its replica,
// and its objects are gone. Handles on it return ErrClosed.
//
// DropHeap returns once the removal has committed and this node's replica,
// if it kept one, is closed. Another node closes its replica when its
// catalog replica applies the removal, a moment later; until then its
// handles work as before: an Update there may still commit (its write is
// gone with the heap), and Heap there returns the open handle. The
// removal is not ordered with the heap's own commits: stop writing to a
// heap before dropping it.
//
// A name no heap has returns an error matching ErrNoHeap, found with a
// read of the catalog (no log entry). A removal whose outcome was not
// learned (ctx ended, the node closed, or the catalog had no leader in
// reach for a while, once it was proposed) returns an error matching
// ErrCommitUnknown: the heap may be gone, and DropHeap again says which
// (ErrNoHeap once it is).
func (n *Node) DropHeap(ctx context.Context, name string) error {
	return n.dropHeap(ctx, name, nil) // dropgroup.go
}

// errNothingThere is what the catalog transactions of DropHeap and
// RevokeGrant return when what they would remove is not in the catalog:
// an Update function's error after reading, which Update checks with a
// read index (no log entry, no sync), where returning nil would commit a
// record of the read alone, and a close or a lost leader meanwhile would
// make the removal of nothing an unknown outcome.
var errNothingThere = errors.New("oss: not in the catalog, nothing to remove")

// uncheckedRemoval says err of a catalog transaction of DropHeap or
// RevokeGrant as theirs: one that found nothing to remove and could not
// check that against the catalog's commit index tells that, matching
// what stopped the check, not the transaction's internal error.
func uncheckedRemoval(err error, what string) error {
	var ue *uncheckedError
	if errors.As(err, &ue) && ue.ferr == errNothingThere {
		return fmt.Errorf("%w (whether %s is in the catalog could not be checked against its commit index)", ue.err, what)
	}
	return err
}

func (n *Node) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// CheckRootName returns the error Tx.SetRoot returns for the root name
// on this node's heaps, matching ErrInvalidArgument, and nil for a name
// it takes: an empty name, one that is not UTF-8 or one longer than
// Config.MaxCommitBytes is refused. It is for a caller that checks what
// it was sent before it creates or writes anything (the admin
// interface's PUT of a root, which may create its heap first).
func (n *Node) CheckRootName(name string) error {
	return validRootName(name, n.cfg.MaxCommitBytes)
}

// validHeapName refuses a name no heap may have, old or new: empty,
// longer than 255 bytes, not UTF-8, or holding a C0 control character
// or DEL. newHeapName (catalog.go) refuses more for a new heap.
func validHeapName(name string) error {
	if name == "" || len(name) > 255 {
		return fmt.Errorf("%w %q: want 1 to 255 bytes of UTF-8", ErrInvalidHeapName, name)
	}
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("%w %q: byte %d (0x%02x) is not UTF-8: want 1 to 255 bytes of UTF-8", ErrInvalidHeapName, name, i, name[i])
		}
		if r < 0x20 || r == 0x7f {
			return badRune(name, i, r, "a control character", "a heap's name")
		}
		i += size
	}
	return nil
}

// badRune is the error for a heap name whose rune r at byte i whose
// name may not hold ("a heap's name": any heap, old or new; "a new
// heap's name": the rules newHeapName adds), said as what: it names the
// rune and where it is, as the name quoted shows it escaped.
func badRune(name string, i int, r rune, what, whose string) error {
	return fmt.Errorf("%w %q: %U at byte %d is %s, which %s may not hold (a terminal printing the name would act on it)", ErrInvalidHeapName, name, r, i, what, whose)
}

// Close hands the node's replicas over to other servers (see Config and
// the package doc), closes every heap, leaves the cluster and stops every
// goroutine the node started, then returns. Transactions that have not
// committed end with ErrClosed (or ErrCommitUnknown if their record was
// already in the log).
//
// ctx bounds the graceful part: the hand-over, which waits at most 10 s
// for the replicas to move, and the leave, at most 5 s more. If ctx ends
// first, Close stops waiting and closes the node at once, as a crash would
// for its peers (their leaders replace its voters after
// Config.ReplaceAfter), and returns an error matching ctx.Err(). The node
// is closed either way. A node with nothing to hand over or leave (one
// alone, off any network) ignores ctx.
//
// Once ctx has ended, Close waits for the data directory's disk only
// while it answers: if a file operation has been under way for
// DiskStallAfter, Close returns an error matching ErrDiskStalled that
// names it, and the rest of the close (the log, the store, the lock)
// ends when the operation returns (see ErrDiskStalled).
//
// Close also returns what closing the data directory failed with (a
// write-ahead log that stopped after a failed sync matches
// persist.ErrFailed). A leave that no member took (the whole cluster
// stopping at once) is logged, not returned: the node has left all the
// same, and members not told count it as failed. Close is idempotent: a
// later call returns nil once the node is closed, and a call made while
// another is closing the node waits for it to finish (its ctx, if it ends
// first, cuts the graceful part short, as above, and its error is
// returned), so that every Close returns with the node closed.
//
// A closed node reports nothing as running: Members, Heaps and
// ReplicaStats report no member, heap or replica, Status has Closed set
// and nothing else gathered, and Heap.Stats of its heaps have Closed set
// and no group. Calls that act (Heap, CreateHeap, a Heap's Update and
// View, Watch) return ErrClosed.
func (n *Node) Close(ctx context.Context) error { return n.stop(ctx, true) }

// stop closes the node: gracefully, handing over and announcing the leave
// until ctx ends, or as a crash would, for tests. A stop while another
// runs waits for it. Once ctx has ended it gives up on a stalled disk
// (awaitDisk): the replicas and the data directory are then closed, and
// the locks released, by the goroutine that waits for the disk, when it
// returns.
func (n *Node) stop(ctx context.Context, graceful bool) error {
	n.mu.Lock()
	if n.stopping {
		stopped, cutStop := n.stopped, n.cutStop
		n.mu.Unlock()
		return n.awaitStop(ctx, stopped, cutStop)
	}
	n.stopping = true
	n.stopped = make(chan struct{})
	ctx, n.cutStop = context.WithCancel(ctx)
	n.mu.Unlock()
	defer n.cutStop()
	cut := false // the hand-over or the leave was cut short by ctx
	if graceful {
		cut = n.handOver(ctx, handOverTimeout)
	}
	var diskErr error
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		diskErr = n.closeDisk()
	}()
	stalled := n.awaitDisk(ctx, closed)
	var errs []error
	if stalled == nil && diskErr != nil {
		errs = append(errs, diskErr)
	}
	if n.members != nil {
		cut = n.leave(ctx, graceful) || cut
	}
	if cut {
		errs = append(errs, fmt.Errorf("oss: close: the hand-over or the leave was cut short: %w", ctx.Err()))
	}
	n.closeNetwork()
	if stalled != nil {
		go func() {
			<-closed
			n.log.Warn("the stalled disk returned: the node's close has ended", "err", diskErr)
			n.releaseLocks()
		}()
		return errors.Join(append(errs, stalled)...)
	}
	n.releaseLocks()
	return errors.Join(errs...)
}

// closeDisk closes the replicas (closeReplicas) and then the data
// directory's log and store, and returns what closing them failed with.
func (n *Node) closeDisk() error {
	n.closeReplicas()
	if n.disk == nil {
		return nil
	}
	// A log that failed says so here too: what it held past its last
	// good sync is gone.
	if err := errors.Join(n.disk.wal.Close(), n.disk.store.Close()); err != nil {
		n.log.Error("closing the data directory", "err", err)
		return fmt.Errorf("oss: close the data directory: %w", err)
	}
	return nil
}

// closeNetwork closes the node's endpoint and waits for membership.
func (n *Node) closeNetwork() {
	if n.quic != nil {
		n.quic.Close()
	}
	if n.members != nil {
		n.members.wait()
	}
	if c, ok := n.tr.(interface{ Close() error }); ok && n.quic == nil {
		c.Close()
	}
}

// releaseLocks releases the data directory's locks, last of a stop, and
// ends the stop.
func (n *Node) releaseLocks() {
	if n.startFailed.Load() {
		n.takeBack() // unadmitted.go
	}
	if n.lock != nil {
		closeLocks(append(n.stripeLocks, n.lock)) // releases the locks
	}
	close(n.stopped)
}

// awaitStop waits for the stop under way to end (stopped closed). If ctx
// ends first, it cuts that stop's graceful part short (cutStop), waits for
// the rest while the disk answers (awaitDisk), and returns an error
// matching ctx.Err(), or ErrDiskStalled.
func (n *Node) awaitStop(ctx context.Context, stopped <-chan struct{}, cutStop context.CancelFunc) error {
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
	}
	cutStop()
	if err := n.awaitDisk(ctx, stopped); err != nil {
		return fmt.Errorf("oss: close: waiting for the close under way: %w", err)
	}
	return fmt.Errorf("oss: close: waiting for the close under way: %w", ctx.Err())
}

// closeReplicas marks the node closed, waits for the replicas being
// opened, closes every replica, the catalog's last, and waits for the
// node's goroutines.
func (n *Node) closeReplicas() {
	n.mu.Lock()
	n.closed = true
	if nw := n.cfg.Transport; nw != nil && n.tr != nil {
		nw.Announce(n.cfg.Name, nil) // gone from its peers' live sets
	}
	opening := slices.Collect(maps.Values(n.opening))
	n.mu.Unlock()
	for _, done := range opening {
		<-done // the replica it opens is closed
	}
	n.mu.Lock()
	// A copy: the catalog watch may still remove dropped heaps from the
	// map until it stops.
	heaps := slices.Collect(maps.Values(n.heaps))
	catalog := n.catalog.Load()
	n.mu.Unlock()
	n.cancel()
	for _, h := range heaps {
		h.close()
	}
	if catalog != nil {
		catalog.close()
	}
	n.wg.Wait()
}

// leave announces the node's leave to its members, within ctx and
// leaveTimeout, if graceful; otherwise, or if no time is left, it stops
// membership at once. It reports whether ctx cut a graceful leave short.
func (n *Node) leave(ctx context.Context, graceful bool) (cut bool) {
	timeout := leaveTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	if !graceful || ctx.Err() != nil || timeout <= 0 {
		n.members.stop()
		return graceful
	}
	n.members.leave(timeout)
	return false
}

// handOverTimeout bounds the wait for a leaving node's replicas to move,
// and leaveTimeout the wait for its leave to be gossiped.
const (
	handOverTimeout = 10 * time.Second
	leaveTimeout    = 5 * time.Second
)

// handOver announces that the node leaves and waits, up to timeout or
// until ctx ends, until the leaders of its groups have moved its votes to
// other servers (and it leads nothing). It does not wait when no other
// server is alive to take them, nor for a vote no server can take (see
// Heap.holdsVote). It reports whether ctx ended before the
// hand-over did; a node off any network has nothing to hand over.
func (n *Node) handOver(ctx context.Context, timeout time.Duration) (cut bool) {
	if n.tr == nil || n.catalog.Load() == nil {
		return false
	}
	if ctx.Err() != nil {
		return true
	}
	n.leaving.Store(true)
	if n.members != nil {
		n.members.setLeaving()
	}
	n.announce()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		live := n.live()
		others := false
		for _, p := range live {
			if p.ID != n.id && p.Role == pki.RoleServer && !p.Leaving {
				others = true
			}
		}
		if !others {
			return false
		}
		n.mu.Lock()
		busy := n.catalog.Load().holdsVote(live)
		for _, h := range n.heaps {
			busy = busy || h.holdsVote(live)
		}
		n.mu.Unlock()
		if !busy {
			n.log.Info("replicas handed over")
			return false
		}
		select {
		case <-ctx.Done():
			n.log.Warn("leaving before every replica was handed over: the context ended", "err", ctx.Err())
			return true
		case <-time.After(20 * time.Millisecond):
		}
	}
	n.log.Warn("leaving before every replica was handed over", "waited", timeout)
	return false
}

type dirHolder struct{ directory }

func (n *Node) directory() directory { return n.dir.Load().(dirHolder).directory }

func (n *Node) setDirectory(d directory) { n.dir.Store(dirHolder{d}) }

// stepAside announces that the node leaves, as a graceful leave does,
// once its write-ahead log has stopped: the node can append nothing, so
// its groups' leaders hand its votes to other servers as they would a
// leaving node's, and place nothing new on it. It stays up (its status,
// its metrics, its admin interface say why) until it is restarted or
// rebuilt.
func (n *Node) stepAside() {
	n.log.Error("the write-ahead log has stopped: the node announces that it leaves, so that its groups move its replicas to other servers")
	n.leaving.Store(true)
	if n.members != nil {
		n.members.setLeaving()
	}
	n.announce()
}
