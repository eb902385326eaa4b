package oss

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport"
)

// Config configures a Node. The zero value is a usable single-node,
// in-memory configuration; every field documents its default.
type Config struct {
	// Name names the node in logs and, later, to its peers. If empty,
	// "node1".
	Name string
	// MaxRetries is how many times Update re-runs a transaction that
	// conflicted before it returns ErrConflict. If zero, 100. Negative means
	// no retries.
	MaxRetries int
	// MaxCommitBytes caps the encoded size of one commit record: a
	// transaction whose record is larger fails at once with ErrTooLarge.
	// The record holds the transaction's reads as well as its writes (see
	// ErrTooLarge).
	// A record is sent to peers in one raft message and kept in one record
	// of the write-ahead log, so it may be at most MaxFrameBytes-512 and
	// at most 64 MiB - 64 KiB - 39, and it must be at least 1 KiB (the
	// catalog's records of nodes and heaps take hundreds of bytes). If
	// zero, the most both allow: 8 MiB - 512 bytes with the default frame.
	MaxCommitBytes int
	// MaxFrameBytes caps a frame of the node's transport in either
	// direction: a raft message, a call's request or answer may be up to
	// MaxFrameBytes-9 bytes. Every node of a cluster must use the same
	// value: a node refuses a frame larger than its own limit. Raft's
	// batching of log entries into messages and the other size limits are
	// derived from it and MaxCommitBytes (see docs/design.md, "Size
	// limits"). At least 64 KiB, at most 1 GiB. If zero, 8 MiB.
	MaxFrameBytes int
	// TickInterval is the period of the heaps' raft clocks: at least 1ms,
	// at most 24h. If zero, 100ms. A replica whose campaigns' answers
	// come late ticks its raft clock at most four times slower
	// (Stats.ElectionSlowdown).
	TickInterval time.Duration
	// WatchBuffer is the number of change sets a watch buffers before a
	// consumer that falls behind gets a resync event instead. If zero, 1024.
	WatchBuffer int
	// WatchBufferBytes caps the bytes of the change sets a watch buffers
	// (their values and root names, and 64 bytes for each change set,
	// object and root; 128 for each object and root of a merged event
	// being built, which indexes them); a consumer that falls further
	// behind gets a resync event too. If zero, 16 MiB.
	WatchBufferBytes int
	// WatchHistory is the number of recent change sets each heap keeps so a
	// watch can resume from a version it has seen. If zero, 4096.
	WatchHistory int
	// WatchHistoryBytes caps the bytes of the change sets each heap keeps
	// for watches to resume from, counted as for WatchBufferBytes; the
	// oldest go first. A watch resuming from a version no longer kept gets
	// a resync event. If zero, 16 MiB.
	WatchHistoryBytes int
	// MaxSnapshotStreams caps the snapshots the node receives from its
	// heaps' leaders at once; more are refused, and their leaders try
	// again later. If zero, 4.
	MaxSnapshotStreams int
	// MaxSnapshotBytes caps the bytes of the snapshots the node receives
	// at once, all streams together (a snapshot is decoded as it arrives,
	// so this bounds the states being built). A stream that would go
	// past it is refused, and its leader tries again later; a heap whose
	// snapshot alone is larger cannot get a replica on this node. If
	// zero, 8 GiB.
	MaxSnapshotBytes int64
	// Logger receives the node's logs. If nil, slog.Default().
	Logger *slog.Logger

	// DataDir is the node's directory: its identity and its write-ahead
	// log. A process holds a lock on it while the node runs, so a second
	// one cannot use it. A node restarted on it recovers its replicas and
	// rejoins their groups as the member it was. If empty, the node keeps
	// nothing on disk.
	DataDir string
	// Durability says when a commit is on disk; see Durability. The
	// default is DurabilitySync with a DataDir, memory without.
	Durability Durability
	// BatchInterval is how often DurabilityBatch syncs the log: a power
	// failure of a quorum loses what was acknowledged in the last
	// interval. If zero, 10ms.
	BatchInterval time.Duration
	// StripeDirs are the directories of the striped object store that
	// checkpoints go to, one stripe each, written and read in parallel:
	// one per disk adds bandwidth. The list must stay the same across
	// restarts, and name each directory once. If empty, one stripe in
	// DataDir. They need a DataDir: a node that keeps nothing on disk
	// refuses them.
	StripeDirs []string

	// Listen is the UDP address (host:port) of the node's QUIC endpoint,
	// which carries all node-to-node traffic, gossip included. If empty,
	// the node does not join a network.
	Listen string
	// Advertise is the address peers reach this node at, host:port with
	// an IP address; it needs Listen. A join and the node's record in the
	// catalog carry it. If empty, the address Listen bound.
	Advertise string
	// Join lists addresses of cluster members to join through; any one
	// that answers will do. The node's own address in the list is
	// skipped (one list can serve every node); a list of only that fails
	// Start for a node that is not yet a member.
	Join []string
	// JoinRetry makes Start keep trying to join while no member named in
	// Join answers (none started yet, all restarting) or the cluster's
	// catalog has no leader in reach, until ctx ends: it tries again
	// after 1s, then 2s, doubling up to 30s, and logs why each attempt
	// failed. A member that answers and refuses (a certificate of
	// another CA, a name live elsewhere) still fails Start at once. If
	// false, Start fails when its first attempt reaches no member, or
	// when the catalog is not joined within 30s.
	JoinRetry bool
	// Role is pki.RoleServer (the default) or pki.RoleClient; it must
	// match the role in the node's certificate.
	Role pki.Role
	// TLS is the node's certificate and key and the cluster CA's
	// certificate, in PEM form. Required with Listen.
	TLS *TLSConfig
	// Replicas is the number of voters a new heap keeps, placed on server
	// nodes by rendezvous hashing; other nodes that open it are learners.
	// If zero, 3. An even number is one voter fewer (HeapOptions.Replicas).
	// The catalog keeps up to 5.
	Replicas int
	// ReplaceAfter is how long a voter may be unreachable before its
	// heap's leader replaces it with another server, or, when no server
	// can take its place, removes it if the heap then survives more
	// failures (five voters with two dead become the three live). A
	// voter alive to membership that has sent its leader nothing for as
	// long (a link cut between the two alone) is replaced too, where a
	// server can take its place, and kept as a learner. A learner not
	// on a live server (a client node's) that has sent its leader
	// nothing for as long is removed, whatever membership says; if it is
	// alive it rejoins once it hears a leader again. If zero, 30s.
	ReplaceAfter time.Duration
	// OnProgress, if not nil, is told how long work at start goes on:
	// replaying the log and loading the striped store. If nil, the node
	// logs a line about every second of such work.
	OnProgress func(Progress)
	// Gossip tunes failure detection: GossipLAN (the default) or
	// GossipLoopback, faster, for tests of several nodes on one machine.
	Gossip GossipProfile
	// PacketConn, if not nil, is the UDP socket the node's QUIC endpoint
	// runs over instead of one bound to Listen (a socket passed in by a
	// service manager, or one that injects faults in tests). It needs
	// Listen, which names the address peers know; the node does not close
	// the socket.
	PacketConn net.PacketConn
	// Transport, if not nil, puts the node on an in-process network
	// instead of QUIC and gossip: transporttest's, or a test's that
	// injects faults (package oss/osstest starts clusters on one). Such a
	// network authenticates nobody and is for tests only. Listen, TLS and
	// PacketConn must then be empty. Join then names nodes already on the
	// network: a node with Join joins their cluster, found through the
	// network's membership records; without it, it bootstraps one. If
	// nil, the node's traffic is QUIC with mutual TLS, as Listen says.
	Transport transport.Network

	// FS, if not nil, holds the data directory and the stripes instead of
	// the operating system's file system: persist.NewMemFS, or a
	// persist.FaultFS that injects I/O errors and crashes. The data
	// directory is then not locked against a second process. If nil,
	// persist.OS.
	FS persist.FS
	// CheckpointEvery is how many applied entries of a heap a durable
	// node lets pass between checkpoints to the striped store, and a node
	// between trims of the raft log it keeps in memory. If zero, 8192.
	CheckpointEvery int
	// KeepEntries is how many applied entries a trim of the in-memory
	// raft log keeps, so that a follower slightly behind catches up from
	// the log rather than from a snapshot. If zero, 1024.
	KeepEntries int
	// CheckpointBytes bounds the raft log a heap keeps in memory by size:
	// once its applied entries hold more than this many bytes, a durable
	// node checkpoints the heap sooner than CheckpointEvery, and the log
	// is trimmed to a tail of at most KeepBytes. Large transactions thus
	// never pile up in memory. If zero, 4 MiB.
	CheckpointBytes int
	// KeepBytes is the most bytes of entries a trim of the in-memory raft
	// log keeps. If zero, 1 MiB.
	KeepBytes int
	// MaxLogBytes caps the raft log a heap's leader keeps in memory for a
	// follower behind. Trims keep the entries a follower heard from within
	// an election timeout has yet to acknowledge, so that it catches up
	// from the log rather than from a snapshot of the whole heap, unless
	// it is more than MaxLogBytes of entries behind (their data and about
	// 72 bytes an entry). A follower sent a snapshot, silent while it
	// installs it, keeps the entries after it for SnapshotGrace.
	// If zero, 64 MiB, and never less than CheckpointBytes.
	MaxLogBytes int
	// SnapshotGrace is how long a follower a leader sent a snapshot may
	// stay silent and still hold back the entries after it (within
	// MaxLogBytes): installing a large snapshot on a slow disk keeps a
	// follower from answering for longer than an election timeout, and a
	// leader that trimmed the entries meanwhile would send it another
	// snapshot. A follower that died meanwhile holds them that long. It
	// is counted in ticks (TickInterval, rounded up), and may not be
	// shorter than an election timeout (10 ticks), the silence after which
	// any follower holds nothing back. If zero, 60 election timeouts: a
	// minute at the default TickInterval.
	SnapshotGrace time.Duration

	// walRecordBytes, if not zero, lowers the largest record of the
	// write-ahead log below its format's limit (tests of commits spread
	// over several records).
	walRecordBytes int
	// walSegmentBytes, if not zero, is the size past which the log starts
	// a new segment (persist.WALOptions.SegmentBytes; tests of the log's
	// truncation).
	walSegmentBytes int64

	// tuneGossip, if not nil, changes memberlist's configuration last
	// (tests: a dead member's record kept as long as the LAN profile
	// keeps it, 30 s, where GossipLoopback forgets it in 1 s).
	tuneGossip func(*memberlist.Config)

	// onMemberEvent, if not nil, is told of each membership event this
	// node sees (tests).
	onMemberEvent func(memberEvent)

	// catalogOpened, if not nil, is called by Start once the node's
	// catalog replica runs, before Start watches it (tests of a replica
	// lost while the node starts).
	catalogOpened func(*Heap)

	// catalogStep, if not nil, is called by Start before each step that
	// needs the node's catalog replica to run: "register" (a node that
	// bootstraps records itself in it), "join" (a node that joins catches
	// it up from the cluster's). Tests of a replica lost at that step.
	catalogStep func(step string, h *Heap)

	// reach, if not nil, stands in for the transport's Reach in the
	// joins of Start and of its book's rejoin (Node.reach), given the
	// transport's to call (tests of a book server refusing this node or
	// answering late).
	reach func(ctx context.Context, addr string, real func(context.Context, string) error) error

	// leaveFailedStart: a failed start leaves the identity it wrote, as
	// a process killed before its end does (tests of what a start finds
	// after such a kill; unadmitted.go).
	leaveFailedStart bool
}

// TLSConfig is a node's TLS material in PEM form.
type TLSConfig struct {
	// CertPEM and KeyPEM are the node's certificate and private key,
	// as pki.IssueCert returns them.
	CertPEM, KeyPEM []byte
	// CAPEM is the certificate of the cluster's CA, which every peer's
	// certificate must verify against (pki.NewCA).
	CAPEM []byte
}

// GossipProfile selects failure-detection timings.
type GossipProfile uint8

const (
	// GossipLAN is memberlist's LAN profile: failures detected in seconds.
	GossipLAN GossipProfile = iota
	// GossipLoopback detects failures in about 1.2 s (6.6 s when only
	// one member suspects), for nodes on one machine, busy ones included.
	GossipLoopback
)

// populate returns a copy of cfg with every default filled in.
func populate(cfg *Config) *Config {
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	if c.Name == "" {
		c.Name = "node1"
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = 100
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = transport.DefaultMaxFrame
	}
	if c.MaxCommitBytes == 0 {
		// Zero if the frame is too small, which validate reports.
		c.MaxCommitBytes = max(maxCommitFor(c.MaxFrameBytes, walRecordLimit(&c)), 0)
	}
	if c.TickInterval == 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.SnapshotGrace == 0 && c.TickInterval > 0 && c.TickInterval <= maxTickInterval {
		c.SnapshotGrace = engine.DefaultSnapshotGraceElections * electionTicks * c.TickInterval
	}
	if c.WatchBuffer == 0 {
		c.WatchBuffer = 1024
	}
	if c.WatchBufferBytes == 0 {
		c.WatchBufferBytes = 16 << 20
	}
	if c.WatchHistory == 0 {
		c.WatchHistory = 4096
	}
	if c.WatchHistoryBytes == 0 {
		c.WatchHistoryBytes = 16 << 20
	}
	if c.MaxSnapshotStreams == 0 {
		c.MaxSnapshotStreams = 4
	}
	if c.MaxSnapshotBytes == 0 {
		c.MaxSnapshotBytes = 8 << 30
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Durability == DurabilityDefault {
		c.Durability = DurabilitySync
		if c.DataDir == "" {
			c.Durability = DurabilityMemory
		}
	}
	if c.BatchInterval == 0 {
		c.BatchInterval = 10 * time.Millisecond
	}
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.ReplaceAfter == 0 {
		c.ReplaceAfter = 30 * time.Second
	}
	if c.Role == "" {
		c.Role = pki.RoleServer
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = engine.DefaultCompactEvery
	}
	if c.KeepEntries == 0 {
		c.KeepEntries = engine.DefaultKeepEntries
	}
	if c.CheckpointBytes == 0 {
		c.CheckpointBytes = engine.DefaultLogBytes
	}
	if c.KeepBytes == 0 {
		c.KeepBytes = engine.DefaultKeepBytes
	}
	return &c
}

// validate checks c, populated, and returns every setting it refuses.
func (c *Config) validate() error {
	errs := c.checkLimits()
	errs = append(errs, c.checkStorage()...)
	errs = append(errs, c.checkStripes()...)
	errs = append(errs, c.checkNetwork()...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("oss: invalid config: %w", configError{err})
	}
	return nil
}

// configError is the settings validate refuses: it matches
// ErrInvalidArgument, and reads as the settings alone.
type configError struct{ err error }

func (e configError) Error() string   { return e.err.Error() }
func (e configError) Unwrap() []error { return []error{e.err, ErrInvalidArgument} }

// checkLimits returns why the sizes, buffers and intervals of c are
// refused.
func (c *Config) checkLimits() []error {
	var errs []error
	if c.MaxCommitBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxCommitBytes %d is negative", c.MaxCommitBytes))
	}
	if c.MaxFrameBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxFrameBytes %d is negative", c.MaxFrameBytes))
	}
	if c.MaxCommitBytes >= 0 && c.MaxFrameBytes >= 0 {
		l := deriveLimits(c)
		errs = append(errs, l.check()...)
	}
	if c.TickInterval < 0 {
		errs = append(errs, fmt.Errorf("TickInterval %v is negative", c.TickInterval))
	}
	if c.TickInterval > 0 && c.TickInterval < minTickInterval {
		errs = append(errs, fmt.Errorf("TickInterval %v is under %v: every heap's loop wakes at each tick, and an election timeout is %d ticks", c.TickInterval, minTickInterval, electionTicks))
	}
	if c.TickInterval > maxTickInterval {
		errs = append(errs, fmt.Errorf("TickInterval %v is over %v (an election timeout is %d ticks)", c.TickInterval, maxTickInterval, electionTicks))
	}
	if c.WatchBuffer < 0 {
		errs = append(errs, fmt.Errorf("WatchBuffer %d is negative", c.WatchBuffer))
	}
	if c.WatchBufferBytes < 0 {
		errs = append(errs, fmt.Errorf("WatchBufferBytes %d is negative", c.WatchBufferBytes))
	}
	if c.WatchHistory < 0 {
		errs = append(errs, fmt.Errorf("WatchHistory %d is negative", c.WatchHistory))
	}
	if c.WatchHistoryBytes < 0 {
		errs = append(errs, fmt.Errorf("WatchHistoryBytes %d is negative", c.WatchHistoryBytes))
	}
	if c.MaxSnapshotStreams < 0 {
		errs = append(errs, fmt.Errorf("MaxSnapshotStreams %d is negative", c.MaxSnapshotStreams))
	}
	if c.MaxSnapshotBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxSnapshotBytes %d is negative", c.MaxSnapshotBytes))
	}
	return errs
}

// checkStripes returns why the stripe directories of c are refused: a
// node that keeps nothing on disk would ignore them, an empty one names
// none, and a directory named twice would hold two stripes' segments
// under the same names, which overwrite each other: the node would not
// start again.
func (c *Config) checkStripes() []error {
	var errs []error
	if len(c.StripeDirs) > 0 && c.Durability == DurabilityMemory {
		errs = append(errs, errors.New("StripeDirs need a DataDir and a Durability that keeps something on disk: the node would ignore them"))
	}
	seen := make(map[string]int, len(c.StripeDirs))
	for i, d := range c.StripeDirs {
		if d == "" {
			errs = append(errs, fmt.Errorf("StripeDirs[%d] is empty", i))
			continue
		}
		clean := filepath.Clean(d)
		if j, ok := seen[clean]; ok {
			errs = append(errs, fmt.Errorf("StripeDirs[%d] %q is StripeDirs[%d] %q again: each stripe needs a directory of its own", i, d, j, c.StripeDirs[j]))
			continue
		}
		seen[clean] = i
	}
	return errs
}

// checkStorage returns why the replication, durability and log settings
// of c are refused.
func (c *Config) checkStorage() []error {
	var errs []error
	if c.Replicas < 0 || c.Replicas > 9 {
		errs = append(errs, fmt.Errorf("Replicas %d is not between 1 and 9", c.Replicas))
	}
	if c.Durability > DurabilityMemory {
		errs = append(errs, fmt.Errorf("Durability %d is unknown", c.Durability))
	}
	if c.DataDir == "" && (c.Durability == DurabilitySync || c.Durability == DurabilityBatch) {
		errs = append(errs, fmt.Errorf("Durability %v needs a DataDir", c.Durability))
	}
	if c.BatchInterval < 0 {
		errs = append(errs, fmt.Errorf("BatchInterval %v is negative", c.BatchInterval))
	}
	if c.ReplaceAfter < 0 {
		errs = append(errs, fmt.Errorf("ReplaceAfter %v is negative", c.ReplaceAfter))
	}
	if c.CheckpointEvery < 0 {
		errs = append(errs, fmt.Errorf("CheckpointEvery %d is negative", c.CheckpointEvery))
	}
	if c.KeepEntries < 0 {
		errs = append(errs, fmt.Errorf("KeepEntries %d is negative", c.KeepEntries))
	}
	if c.CheckpointBytes < 0 {
		errs = append(errs, fmt.Errorf("CheckpointBytes %d is negative", c.CheckpointBytes))
	}
	if c.KeepBytes < 0 {
		errs = append(errs, fmt.Errorf("KeepBytes %d is negative", c.KeepBytes))
	}
	if c.MaxLogBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxLogBytes %d is negative", c.MaxLogBytes))
	}
	if election := electionTicks * c.TickInterval; c.SnapshotGrace < election && c.TickInterval > 0 && c.TickInterval <= maxTickInterval {
		errs = append(errs, fmt.Errorf("SnapshotGrace %v is shorter than an election timeout (%v at TickInterval %v), after which a follower that is silent for no reason holds nothing back", c.SnapshotGrace, election, c.TickInterval))
	}
	return errs
}

// maxTickInterval is the longest TickInterval: the durations derived from
// it (SnapshotGrace's default, 600 ticks) stay far from overflowing. A
// tick of months was taken, and Start then blamed a SnapshotGrace the
// caller never set ("-600ns is shorter than an election timeout"). A
// tick of hours is only for tests that want no tick at all.
const maxTickInterval = 24 * time.Hour

// minTickInterval is the shortest TickInterval. A tick of 1ns was taken:
// an election timeout of 10 ns, and every heap's ticker due again as soon
// as its loop took a tick. The project's tests tick at 2 ms at the
// fastest.
const minTickInterval = time.Millisecond

// snapshotGraceTicks is SnapshotGrace in ticks, rounded up (the engine's
// SnapshotGraceTicks); c is populated and valid.
func (c *Config) snapshotGraceTicks() uint64 {
	return uint64((c.SnapshotGrace + c.TickInterval - 1) / c.TickInterval)
}

// checkNetwork returns why the network and identity settings of c are
// refused.
func (c *Config) checkNetwork() []error {
	var errs []error
	if c.Transport != nil && (c.Listen != "" || c.TLS != nil || c.PacketConn != nil) {
		errs = append(errs, errors.New("Transport excludes Listen, TLS and PacketConn: a node runs on one network"))
	}
	if c.PacketConn != nil && c.Listen == "" {
		errs = append(errs, errors.New("PacketConn needs Listen"))
	}
	if c.Advertise != "" && c.Listen == "" {
		// Taken and ignored until 2026-12-06: a node on no network, or on
		// Transport's, which names nodes, not addresses.
		errs = append(errs, fmt.Errorf("Advertise %q needs Listen (ossd: --listen): without it the node listens nowhere, and no peer reaches it at an address", c.Advertise))
	}
	if c.Listen != "" && (c.TLS == nil || len(c.TLS.CertPEM) == 0 || len(c.TLS.KeyPEM) == 0 || len(c.TLS.CAPEM) == 0) {
		errs = append(errs, errors.New("Listen needs TLS material: the node's certificate and key and the cluster CA (see package oss/pki)"))
	}
	if c.Listen == "" && c.Transport == nil && len(c.Join) > 0 {
		errs = append(errs, errors.New("Join needs Listen (or Transport)"))
	}
	if err := c.checkAdvertise(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.checkJoin()...) // startjoin.go
	if err := pki.CheckName(c.Name); err != nil {
		errs = append(errs, fmt.Errorf("Name: %v (a node's name is its certificate's)", err))
	}
	if c.Role != pki.RoleServer && c.Role != pki.RoleClient {
		errs = append(errs, fmt.Errorf("Role %q is neither %q nor %q", c.Role, pki.RoleServer, pki.RoleClient))
	}
	if c.Gossip > GossipLoopback {
		// Taken as GossipLAN until 2026-12-05, where an unknown
		// Durability or Role was refused.
		errs = append(errs, fmt.Errorf("Gossip %d is neither GossipLAN nor GossipLoopback", c.Gossip))
	}
	return errs
}

// checkAdvertise returns why peers could not dial the address the node
// would advertise: Advertise, or without it the address Listen binds.
func (c *Config) checkAdvertise() error {
	if c.Advertise == "" {
		host, _, err := net.SplitHostPort(c.Listen)
		if err != nil || c.Transport != nil {
			return nil // Listen's own error, at listen
		}
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			return fmt.Errorf("Listen %q binds every interface, an address peers cannot dial: set Advertise (ossd: --advertise) to the HOST:PORT they reach this node at", c.Listen)
		}
		return nil
	}
	host, port, err := net.SplitHostPort(c.Advertise)
	ip := net.ParseIP(host)
	if err == nil && (ip == nil || ip.IsUnspecified()) {
		err = errors.New("want the IP address peers reach this node at")
	}
	if p, perr := strconv.ParseUint(port, 10, 16); err == nil && (perr != nil || p == 0) {
		err = errors.New("want the port peers reach this node at, 1 to 65535")
	}
	if err != nil {
		return fmt.Errorf("Advertise %q: %w", c.Advertise, err)
	}
	return nil
}
