package oss

import (
	"fmt"
	"sync"

	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport"
	"go.etcd.io/raft/v3/raftpb"
)

// Every byte limit of a node is derived here, from two settings: the
// transport's frame (Config.MaxFrameBytes, the same on every node of a
// cluster) and the commit record (Config.MaxCommitBytes, at most what one
// frame carries). Config.validate checks the relations at Start, so a
// record a node accepts can always be sent, logged and applied, and
// Tx.Commit refuses a larger one with ErrTooLarge before it reaches the
// heap's loop. docs/design.md ("Size limits") has the same table.
//
//	limit        value (with the default 8 MiB frame)            relation checked
//	frame        MaxFrameBytes (8 MiB)                           minFrame <= frame <= maxFrame
//	body         frame - transport.FrameOverhead (8 MiB - 9)     carries a raft message, a call's request or answer, a stream header
//	commit       MaxCommitBytes (8 MiB - 512)                    commit <= frame - recordReserve: a raft message holding it alone fits
//	                                                             commit <= maxCommitLogged(walRecord): its entry fits in a log record
//	entry        commit + entryOverhead
//	perMsg       min(1 MiB, (body - envelope - message) 3/4)     messageOverhead + 4/3 perMsg + envelope <= body
//	uncommitted  max(64 MiB, 8 commit)                           >= commit: a record at the limit is always taken
//	perReady     max(16 MiB, 2 entry)                            >= perMsg
//	walRecord    walRecordLimit (persist.MaxRecord, 64 MiB)      <= persist.MaxRecord
//	walEntries   walRecord - walReserve                          >= entry + walEntryHead; a Ready with more takes several records
//	snapshot     MaxSnapshotBytes (8 GiB, every stream together) decoded as it arrives, not framed; its header fits in a body
//	watch event  one commit's change set                         no larger than its record; history and queues capped
//	                                                             by WatchHistoryBytes and WatchBufferBytes (16 MiB)
//	recvQueue    4 frame (32 MiB)                                >= frame: a heap's queue of raft messages from peers
//	                                                             (recvc) always takes one; the transport's per-peer
//	                                                             send queue and per-connection inbound frames default
//	                                                             to the same
//
// perMsg, uncommitted and perReady are raft's MaxSizePerMsg,
// MaxUncommittedEntriesSize and MaxCommittedSizePerReady. Raft puts
// several entries in one append message only while their sizes add up to
// perMsg, and one larger entry alone; a follower forwards proposals the
// same way (consistency.Replica.Propose).
type sizeLimits struct {
	frame       int    // a transport frame, without its length prefix
	body        int    // what one frame carries
	commit      int    // an encoded commit record
	entry       int    // a raft entry holding a commit record
	perMsg      uint64 // raft's MaxSizePerMsg
	uncommitted uint64 // raft's MaxUncommittedEntriesSize
	perReady    uint64 // raft's MaxCommittedSizePerReady
	walRecord   int    // a write-ahead log record
	walEntries  int    // entries packed into one log record
	snapshot    int64  // the snapshots being received, together
	recvQueue   int64  // a heap's queue of raft messages from peers, in bytes
}

// The most each layer adds to a commit record on its way to a peer. Sizes
// of raftpb messages are protobuf: a field is a one-byte tag and a varint
// of up to 10 bytes (a length of up to 5: frames are under 4 GiB).
const (
	// entryOverhead is a raftpb.Entry around its data: type (2), term and
	// index (11 each), the data's tag and length (6).
	entryOverhead = 2 + 11 + 11 + 1 + 5
	// entryEmbed is an entry's tag and length inside a message.
	entryEmbed = 1 + 5
	// messageOverhead is a raftpb.Message of type MsgApp or MsgProp
	// without its entries: type and reject (2 each) and eight varint
	// fields (11 each). Those messages carry no snapshot, context or
	// responses.
	messageOverhead = 2 + 2 + 8*11
	// envelopeOverhead is raftEnvelope's header: version, the heap name's
	// length and the name (at most 255 bytes), the group.
	envelopeOverhead = 1 + 2 + 255 + 8
	// recordReserve is what a frame holds besides a commit record sent
	// alone: transport.FrameOverhead + envelopeOverhead + messageOverhead
	// + entryEmbed + entryOverhead is 403 bytes, rounded up.
	recordReserve = 512

	// minCommit is the least MaxCommitBytes: an encoded commit record is
	// 29 bytes before it holds anything and 80 with one object read and
	// written empty; the catalog's records take hundreds (141 bytes a
	// node's record of a 15-byte name, 381 of a 253-byte one; 261 a
	// heap's entry naming five voters). A node taking 1 committed
	// nothing and said only that each record was too large.
	minCommit = 1 << 10

	// minFrame and maxFrame bound MaxFrameBytes. A frame's length is 32
	// bits, and a receiver allocates what the length says.
	minFrame = 64 << 10
	maxFrame = 1 << 30

	// walEntryHead is the CBOR head of one entry in a log record.
	walEntryHead = 9
	// walReserve is what a log record holds besides its entries: heap
	// name, group, hard state, snapshot metadata, CBOR heads.
	walReserve = 64 << 10

	defaultPerMsg      = 1 << 20
	defaultUncommitted = 64 << 20
	defaultPerReady    = 16 << 20
)

// walRecordLimit is the largest record of the write-ahead log: its
// format's limit, unless Config.walRecordBytes (tests) lowers it.
func walRecordLimit(c *Config) int {
	if c.walRecordBytes > 0 {
		return c.walRecordBytes
	}
	return persist.MaxRecord
}

// maxCommitFor is the largest commit record a frame of the given size
// carries and a log record of the given size holds; it is MaxCommitBytes's
// default.
func maxCommitFor(frame, record int) int { return min(frame-recordReserve, maxCommitLogged(record)) }

// maxCommitLogged is the largest commit record a log record of the given
// size holds.
func maxCommitLogged(record int) int { return record - walReserve - walEntryHead - entryOverhead }

// deriveLimits returns the limits of a populated configuration; check
// says whether they hold together.
func deriveLimits(c *Config) sizeLimits {
	l := sizeLimits{
		frame:     c.MaxFrameBytes,
		body:      c.MaxFrameBytes - transport.FrameOverhead,
		commit:    c.MaxCommitBytes,
		entry:     c.MaxCommitBytes + entryOverhead,
		walRecord: walRecordLimit(c),
		snapshot:  c.MaxSnapshotBytes,
		recvQueue: 4 * int64(c.MaxFrameBytes),
	}
	l.walEntries = l.walRecord - walReserve
	// A message of several entries is at most messageOverhead plus their
	// sizes (which raft keeps under perMsg) plus entryEmbed for each; an
	// entry is at least 6 bytes and its embedding at most a third of it,
	// so the message is under messageOverhead + 4/3 perMsg.
	l.perMsg = uint64(max(0, min(defaultPerMsg, (l.body-envelopeOverhead-messageOverhead)/4*3)))
	l.uncommitted = uint64(max(defaultUncommitted, 8*l.commit))
	l.perReady = uint64(max(defaultPerReady, 2*l.entry))
	return l
}

// check returns what is wrong with the limits, in terms of the Config
// fields that set them.
func (l *sizeLimits) check() []error {
	var errs []error
	if l.frame < minFrame || l.frame > maxFrame {
		return append(errs, fmt.Errorf("MaxFrameBytes %d is not between %d and %d", l.frame, minFrame, maxFrame))
	}
	if l.commit <= 0 {
		errs = append(errs, fmt.Errorf("MaxCommitBytes %d is not positive", l.commit))
	} else if l.commit < minCommit {
		errs = append(errs, fmt.Errorf("MaxCommitBytes %d is under %d, the least a node takes: a commit record holds 29 bytes before any object, and the catalog's records of nodes and heaps take hundreds (0 means the most a frame carries)",
			l.commit, minCommit))
	}
	if most := l.frame - recordReserve; l.commit > most {
		errs = append(errs, fmt.Errorf("MaxCommitBytes %d does not fit in a frame: a raft message carrying a record adds up to %d bytes to it, and MaxFrameBytes is %d, so MaxCommitBytes may be at most %d",
			l.commit, recordReserve, l.frame, most))
	}
	if l.entry+walEntryHead > l.walEntries {
		errs = append(errs, fmt.Errorf("MaxCommitBytes %d does not fit in a record of the write-ahead log (at most %d bytes with its other fields), so MaxCommitBytes may be at most %d",
			l.commit, l.walRecord, maxCommitLogged(l.walRecord)))
	}
	if len(errs) > 0 {
		return errs
	}
	// The derived limits; they hold by construction.
	if worst := messageOverhead + l.perMsg + (l.perMsg+2)/3; l.perMsg == 0 || int(worst)+envelopeOverhead > l.body {
		errs = append(errs, fmt.Errorf("raft's MaxSizePerMsg %d does not fit in a frame body of %d bytes", l.perMsg, l.body))
	}
	if l.uncommitted < uint64(l.commit) {
		errs = append(errs, fmt.Errorf("raft's MaxUncommittedEntriesSize %d is under MaxCommitBytes %d", l.uncommitted, l.commit))
	}
	if l.perReady < l.perMsg {
		errs = append(errs, fmt.Errorf("raft's MaxCommittedSizePerReady %d is under MaxSizePerMsg %d", l.perReady, l.perMsg))
	}
	if l.walRecord > persist.MaxRecord {
		errs = append(errs, fmt.Errorf("a log record of %d bytes is over the log's format limit of %d", l.walRecord, persist.MaxRecord))
	}
	return errs
}

// oversizeEvery is how many ticks of a heap pass between two log lines
// about raft messages to one peer that the transport refused for size.
const oversizeEvery = 100

// oversizeLog keeps the log from repeating, every time raft sends again, a
// message the transport refused for size.
type oversizeLog struct {
	mu   sync.Mutex // protects following fields
	last map[oversizeKey]oversizeSeen
}

type oversizeKey struct{ heap, peer string }

type oversizeSeen struct {
	tick    uint64
	dropped int // refused since the last line
}

// note counts a refused message and reports whether to log it now, with
// the count of those refused since the last line.
func (o *oversizeLog) note(heap, peer string, tick uint64) (int, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.last == nil {
		o.last = make(map[oversizeKey]oversizeSeen)
	}
	k := oversizeKey{heap, peer}
	s, ok := o.last[k]
	s.dropped++
	if ok && tick < s.tick+oversizeEvery {
		o.last[k] = s
		return 0, false
	}
	o.last[k] = oversizeSeen{tick: tick}
	return s.dropped, true
}

// logOversize says, clearly, that a raft message could not be sent because
// it exceeds the transport's frame: raft takes the peer as unreachable and
// sends it again, which cannot succeed while the limits stay as they are.
func (h *Heap) logOversize(to string, m *raftpb.Message, size int, err error) {
	n, ok := h.node.oversize.note(h.name, to, h.eng.Ticks())
	if !ok {
		return
	}
	h.log.Error("raft message too large for the transport, not sent: the peer cannot catch up until every node uses the same MaxFrameBytes and no MaxCommitBytes over MaxFrameBytes-512",
		"to", to, "type", m.Type, "entries", len(m.Entries), "bytes", size, "limit", h.node.limits.body,
		"refused", n, "err", err)
}
