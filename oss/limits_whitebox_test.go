package oss

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// putRecordOfSize writes one object whose value makes the transaction's
// commit record exactly size bytes, as Commit encodes it (a blind write:
// no reads).
//
// A large record is first tried with a value of 64 KiB, whose lengths
// take as many bytes to encode (in the value and in the record) as those
// of a value of megabytes: the second try is exact. From an empty value
// the second was 8 bytes short and a third needed, each an 8 MiB value
// made, encoded and its record encoded, which under the race detector
// were a fifth of an 8 MiB commit's time over QUIC.
func putRecordOfSize(tx *Tx, id uuid.UUID, size int) error {
	blob := []byte{}
	if size >= 1<<17 {
		blob = make([]byte, 1<<16)
	}
	for range 4 {
		if err := Put(tx, id, blob); err != nil {
			return err
		}
		rec := consistency.Record{TxID: id, Snapshot: tx.snap.Index(), Writes: tx.writeList}
		b, err := rec.Marshal()
		if err != nil {
			return err
		}
		if len(b) == size {
			return nil
		}
		n := len(blob) + size - len(b)
		if n < 0 {
			return fmt.Errorf("a record is at least %d bytes, not %d", len(b), size)
		}
		blob = bytes.Repeat([]byte{byte(size)}, n)
	}
	return fmt.Errorf("no value makes a record of exactly %d bytes", size)
}

// commitOfSize commits a record of exactly size bytes on h, writing id.
func commitOfSize(h *Heap, id uuid.UUID, size int) error {
	// The deadline only keeps a jammed heap from hanging the test. It is
	// long: under the race detector at load 20 on 2 cores a bare quic-go
	// stream carries 1.8 MB/s, an 8 MiB append reached its followers 18 to
	// 20 s after the leader sent it, and a follower's record crosses two
	// hops (forwarded, then appended); 30 s ran out with the append on
	// its way.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for {
		err := h.Update(ctx, func(tx *Tx) error { return putRecordOfSize(tx, id, size) })
		// On a loaded machine an 8 MiB append can outlast an election
		// timeout and the leader changes under the commit: the write
		// is idempotent (one object, one value), so it is tried again,
		// as an application would; a jammed heap still runs out the
		// deadline.
		if ctx.Err() == nil && (errors.Is(err, ErrNoQuorum) || errors.Is(err, ErrCommitUnknown)) {
			continue
		}
		return err
	}
}

// A commit record exactly at the limit commits, from the leader and from a
// follower (which forwards it); one byte more fails at once with
// ErrTooLarge and is never proposed; the heap goes on committing.
func TestQUICCommitAtTheSizeLimit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*Config)
		tick      time.Duration
		burst     int // concurrent records of each size from each of leader and follower
	}{
		// The default tick: under the race detector an 8 MiB append can
		// take longer than the 20 ms tick's election timeout to arrive.
		{name: "default", tick: 100 * time.Millisecond},
		// A small frame, so that many records at the limit are cheap: a
		// burst of them, of small ones and of ones a few of which exceed
		// a frame together.
		{name: "frame=64KiB", tick: 20 * time.Millisecond, configure: func(c *Config) { c.MaxFrameBytes = 64 << 10 }, burst: 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(func() { goleak.VerifyNone(t) })
			c := newQUICClusterWith(t, tc.tick, tc.configure, "a", "b", "c")
			ctx, cancel := context.WithTimeout(context.Background(), await.Deadline) // against a hang
			defer cancel()
			heaps := c.openAll(t, ctx, "big")
			g := c.waitGroup(t, "big")
			var follower string
			for name := range heaps {
				if name != g.Leader {
					follower = name
					break
				}
			}
			limit := c.nodes[g.Leader].cfg.MaxCommitBytes
			t.Logf("leader %s, follower %s, MaxCommitBytes %d", g.Leader, follower, limit)

			for _, from := range []string{g.Leader, follower} {
				h := heaps[from]
				id := uuid.New()
				if err := commitOfSize(h, id, limit); err != nil {
					t.Fatalf("a record of exactly MaxCommitBytes (%d) from %s: %v", limit, from, err)
				}
				// Its own bound, as commitOfSize's: the first commit
				// may have taken most of a shared one.
				vctx, vcancel := context.WithTimeout(context.Background(), time.Minute)
				err := h.View(vctx, func(tx *Tx) error {
					v, err := Get[[]byte](tx, id)
					if err == nil && len(v) < limit-100 {
						err = fmt.Errorf("read back %d bytes", len(v))
					}
					return err
				}, nil)
				vcancel()
				if err != nil {
					t.Fatalf("the record at the limit from %s: %v", from, err)
				}
				err = commitOfSize(h, uuid.New(), limit+1)
				var tooLarge *TooLargeError
				if !errors.Is(err, ErrTooLarge) || !errors.As(err, &tooLarge) || tooLarge.Max != limit {
					t.Fatalf("a record of MaxCommitBytes+1 from %s: %v, want a *TooLargeError", from, err)
				}
				if err := commitOfSize(h, uuid.New(), 100); err != nil {
					t.Fatalf("a small commit from %s after the refused one: %v", from, err)
				}
			}

			if tc.burst > 0 {
				// Records at the limit and small ones, all at once from both
				// nodes: raft batches them into proposals and appends that
				// must each fit in a frame.
				var wg sync.WaitGroup
				errs := make(chan error, 6*tc.burst)
				for _, from := range []string{g.Leader, follower} {
					for i := range 3 * tc.burst {
						size := []int{limit, 200, limit / 2}[i%3]
						wg.Go(func() {
							if err := commitOfSize(heaps[from], uuid.New(), size); err != nil {
								errs <- fmt.Errorf("from %s, a record of %d bytes: %w", from, size, err)
							}
						})
					}
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
			}

			// A replica left behind by a change of leader under the
			// commits takes their 8 MiB entries, or a snapshot holding
			// them, at the pace of the loaded machine (a new leader's
			// snapshot to the old one was still on its way after 20 s at
			// load 20).
			waitCond(t, "the replicas to converge", func() bool {
				var first [32]byte
				i := 0
				for _, h := range heaps {
					_, d := h.Digest()
					if i > 0 && d != first {
						return false
					}
					first, i = d, i+1
				}
				return true
			})
		})
	}
}

// Config validation at Start checks how the size limits relate: a commit
// record must fit in a frame after the overhead of a raft message, and in
// a record of the write-ahead log; the frame must be within bounds.
func TestConfigSizeLimits(t *testing.T) {
	for _, tc := range []struct {
		name       string
		frame      int
		commit     int
		want       string // a fragment of the error, "" for none
		wantCommit int    // MaxCommitBytes after defaults, if want is ""
		wantPerMsg uint64 // raft's MaxSizePerMsg, if not 0
	}{
		{name: "defaults", wantCommit: 8<<20 - 512, wantPerMsg: 1 << 20},
		{name: "the old default record", commit: 8 << 20, want: "MaxCommitBytes 8388608 does not fit in a frame"},
		{name: "record at the most a frame carries", commit: 8<<20 - 512, wantCommit: 8<<20 - 512},
		{name: "record one byte over", commit: 8<<20 - 511, want: "MaxCommitBytes may be at most 8388096"},
		{name: "small record", commit: 1024, wantCommit: 1024, wantPerMsg: 1 << 20},
		{name: "smallest frame", frame: 64 << 10, wantCommit: 64<<10 - 512, wantPerMsg: (64<<10 - 9 - 266 - 92) / 4 * 3},
		{name: "smallest frame, record over", frame: 64 << 10, commit: 64<<10 - 511, want: "does not fit in a frame"},
		{name: "frame under the minimum", frame: 64<<10 - 1, want: "MaxFrameBytes 65535 is not between"},
		{name: "frame over the maximum", frame: 1<<30 + 1, want: "is not between"},
		{name: "tiny frame, default record", frame: 1000, want: "oss: invalid config: MaxFrameBytes 1000 is not between 65536 and 1073741824"},
		{name: "large frame: the log caps the record", frame: 256 << 20, wantCommit: 64<<20 - 64<<10 - 9 - 30, wantPerMsg: 1 << 20},
		{name: "large frame, record over the log's", frame: 256 << 20, commit: 100 << 20, want: "does not fit in a record of the write-ahead log"},
		{name: "negative frame", frame: -1, want: "MaxFrameBytes -1 is negative"},
		{name: "negative record", commit: -1, want: "MaxCommitBytes -1 is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := populate(&Config{MaxFrameBytes: tc.frame, MaxCommitBytes: tc.commit})
			err := c.validate()
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want an error saying %q", err, tc.want)
				}
				if tc.commit == 0 && strings.Contains(err.Error(), "\n") {
					t.Fatalf("more than one error, about a MaxCommitBytes the config left to its default: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l := deriveLimits(c)
			if c.MaxCommitBytes != tc.wantCommit {
				t.Errorf("MaxCommitBytes %d, want %d", c.MaxCommitBytes, tc.wantCommit)
			}
			if tc.wantPerMsg != 0 && l.perMsg != tc.wantPerMsg {
				t.Errorf("MaxSizePerMsg %d, want %d", l.perMsg, tc.wantPerMsg)
			}
			if l.uncommitted < uint64(l.commit) || l.perReady < l.perMsg || l.body != c.MaxFrameBytes-transport.FrameOverhead {
				t.Errorf("derived limits do not hold together: %+v", l)
			}
		})
	}
	// Start refuses such a configuration before it starts anything.
	_, err := Start(context.Background(), &Config{MaxCommitBytes: 8 << 20, Logger: testLogger()})
	if err == nil || !strings.Contains(err.Error(), "oss: invalid config") || !strings.Contains(err.Error(), "MaxCommitBytes") {
		t.Fatalf("Start with a record limit as large as the frame: %v", err)
	}
}

// The overheads limits.go counts are upper bounds: the largest raft
// message of one record at the limit, with every field at its largest and
// the longest heap name, fits in a frame; so does any message raft builds
// of several entries under MaxSizePerMsg, and a log record holding one
// entry at the limit fits in a log record.
func TestDerivedLimitsFitAFrame(t *testing.T) {
	t.Parallel()
	const most = ^uint64(0)
	heap := strings.Repeat("h", 255)
	frameOf := func(m *raftpb.Message) int {
		env := raftEnvelope{Heap: heap, Group: most}
		return len(env.appendTo(nil)) + m.Size() + transport.FrameOverhead
	}
	header := func(ents []raftpb.Entry) *raftpb.Message {
		return &raftpb.Message{Type: raftpb.MsgApp, To: most, From: most, Term: most, LogTerm: most, Index: most,
			Commit: most, Reject: true, RejectHint: most, Vote: most, Entries: ents}
	}
	for _, frame := range []int{64 << 10, 100_000, 1 << 20, 8 << 20, 20 << 20} {
		c := populate(&Config{MaxFrameBytes: frame})
		if err := c.validate(); err != nil {
			t.Fatal(err)
		}
		l := deriveLimits(c)
		e := raftpb.Entry{Type: raftpb.EntryConfChangeV2, Term: most, Index: most, Data: make([]byte, l.commit)}
		if got := frameOf(header([]raftpb.Entry{e})); got > frame {
			t.Errorf("frame %d: a message of one record at the limit takes %d bytes", frame, got)
		}
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		hard, _ := (&raftpb.HardState{Term: most, Vote: most, Commit: most}).Marshal()
		rec, err := codec.Marshal(walRecord{Heap: heap, Group: most, Hard: hard, Replicas: 9, Entries: [][]byte{b}})
		if err != nil {
			t.Fatal(err)
		}
		if len(rec) > l.walRecord {
			t.Errorf("frame %d: a log record of one entry at the limit takes %d bytes, over %d", frame, len(rec), l.walRecord)
		}
		// Several entries, taken as raft takes them: while their sizes
		// add up to at most MaxSizePerMsg. Small entries cost the most
		// in embedding.
		for _, data := range []int{-1, 0, 1, 50, 100, 122, 123, 1000, 16_370, l.commit / 3} {
			var ents []raftpb.Entry
			size := 0
			for {
				e := raftpb.Entry{Term: 1, Index: 1}
				if data >= 0 {
					e.Data = make([]byte, data)
				}
				if len(ents) > 0 && uint64(size+e.Size()) > l.perMsg {
					break
				}
				ents = append(ents, e)
				size += e.Size()
			}
			if len(ents) < 2 {
				continue
			}
			if got := frameOf(header(ents)); got > frame {
				t.Errorf("frame %d: %d entries of %d bytes of data in one message take %d bytes", frame, len(ents), data, got)
			}
		}
	}
}

// A message refused for size is logged once, then at most once every
// oversizeEvery ticks per heap and peer, with the count refused since.
func TestOversizeLogIsThrottled(t *testing.T) {
	var o oversizeLog
	if n, ok := o.note("h", "b", 5); !ok || n != 1 {
		t.Fatalf("first refusal: %d %v", n, ok)
	}
	for tick := uint64(5); tick < 5+oversizeEvery; tick++ {
		if _, ok := o.note("h", "b", tick); ok {
			t.Fatalf("logged again at tick %d", tick)
		}
	}
	if n, ok := o.note("h", "c", 6); !ok || n != 1 {
		t.Fatalf("another peer: %d %v", n, ok)
	}
	if n, ok := o.note("h", "b", 5+oversizeEvery); !ok || n != oversizeEvery+1 {
		t.Fatalf("after %d ticks: %d %v, want %d refusals since the last line", oversizeEvery, n, ok, oversizeEvery+1)
	}
}

// refusingTransport refuses, as a transport with a smaller frame would,
// messages over max bytes to the peer named in victim.
type refusingTransport struct {
	transport.Transport
	victim *atomic.Value // of string
	max    int
}

func (r refusingTransport) Send(ctx context.Context, to string, msg []byte) error {
	if v, _ := r.victim.Load().(string); v == to && len(msg) > r.max {
		return fmt.Errorf("%w: message of %d bytes, limit %d", transport.ErrTooLarge, len(msg), r.max)
	}
	return r.Transport.Send(ctx, to, msg)
}

// A raft message the transport refuses for size is logged as such (not
// passed over as an unreachable peer); raft sends it again, and once the
// transport takes it the peer catches up.
func TestOversizeMessageIsLogged(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	logs := &syncBuffer{}
	c := startTestNodes(t, 5)
	var victim atomic.Value
	victim.Store("")
	c.wrap = func(name string, tr transport.Transport) transport.Transport {
		return refusingTransport{Transport: tr, victim: &victim, max: 4096}
	}
	for i, name := range []string{"a", "b", "c"} {
		c.add(name, i > 0, func(cfg *Config) { cfg.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
		c.open(name, "bank")
	}
	leader := c.waitLeader()
	for name := range c.heaps {
		if name != leader {
			victim.Store(name)
			break
		}
	}
	if err := commitOfSize(c.heaps[leader], uuid.New(), 10_000); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "the refusal to be logged", func() bool {
		return strings.Contains(logs.String(), "raft message too large for the transport")
	})
	if line := logs.String(); !strings.Contains(line, "to="+victim.Load().(string)) || !strings.Contains(line, "type=MsgApp") {
		t.Fatalf("the log does not say which message to whom:\n%s", line)
	}
	victim.Store("")
	waitCond(t, "the replicas to converge", c.converged)
}

// syncBuffer is a bytes.Buffer for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The entries of a Ready larger than a log record take several records:
// each holds at most the budget (or one entry), the snapshot goes first
// and the hard state last, and replaying them gives what replaying one
// record of everything gives.
func TestSplitReadyReplaysAsOne(t *testing.T) {
	hard, _ := (&raftpb.HardState{Term: 3, Vote: 2, Commit: 20}).Marshal()
	for _, snap := range []bool{false, true} {
		base := walRecord{Heap: "bank", Group: 7, Replicas: 3}
		first := uint64(1)
		if snap {
			meta := raftpb.SnapshotMetadata{Index: 5, Term: 2, ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}}}
			base.SnapMeta, _ = meta.Marshal()
			base.SnapData = bytes.Repeat([]byte{'s'}, 3000)
			first = 6
		}
		var ents [][]byte
		for i := range uint64(20) {
			b, err := (&raftpb.Entry{Term: 3, Index: first + i, Data: bytes.Repeat([]byte{byte(i)}, 100+int(i)*97)}).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			ents = append(ents, b)
		}
		const budget = 4096
		recs := splitReady(base, hard, ents, budget)
		whole := splitReady(base, hard, ents, 1<<30)
		if len(whole) != 1 || len(recs) < 3 {
			t.Fatalf("snapshot %v: %d records whole, %d split", snap, len(whole), len(recs))
		}
		n := 0
		for i, r := range recs {
			size := len(r.SnapData)
			for _, e := range r.Entries {
				size += walEntryHead + len(e)
			}
			if size > budget && len(r.Entries) > 1 {
				t.Errorf("snapshot %v: record %d holds %d bytes, over %d", snap, i, size, budget)
			}
			if (r.Hard != nil) != (i == len(recs)-1) || (r.SnapMeta != nil) != (snap && i == 0) {
				t.Errorf("snapshot %v: record %d: hard state %v, snapshot %v", snap, i, r.Hard != nil, r.SnapMeta != nil)
			}
			n += len(r.Entries)
		}
		if n != len(ents) {
			t.Fatalf("snapshot %v: %d entries in the records, want %d", snap, n, len(ents))
		}
		replay := func(recs []walRecord) *recoveredGroup {
			groups := map[groupKey]*recoveredGroup{}
			for i, r := range recs {
				b, err := codec.Marshal(r)
				if err != nil {
					t.Fatal(err)
				}
				if err := replayRecord(groups, uint64(10+i), b); err != nil {
					t.Fatal(err)
				}
			}
			return groups[groupKey{"bank", 7}]
		}
		got, want := replay(recs), replay(whole)
		if fmt.Sprint(got.snap, got.hard, got.ents, got.replicas, got.ckptSeq) != fmt.Sprint(want.snap, want.hard, want.ents, want.replicas, want.ckptSeq) {
			t.Fatalf("snapshot %v: replaying the split records differs from replaying one", snap)
		}
	}
}

// A follower catching up receives more entries in one Ready than a log
// record holds: they take several records of the log, it goes on, and it
// restarts from them.
func TestReadyOverALogRecord(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c"}
	c := startDurable(t, 9, names, func(cfg *Config) { cfg.walRecordBytes = walReserve + 16<<10 })
	for _, name := range names {
		c.open(name, "bank")
	}
	// Whether a catch-up's appends reach the follower together, in one
	// Ready, or one by one as its loop keeps up with them, is the
	// scheduler's: a round that took none together is run again.
	var lagging string
	for round := 1; ; round++ {
		leader := c.waitLeader()
		var others []string
		lagging = ""
		for _, name := range names {
			if name != leader && lagging == "" {
				lagging = name
			} else {
				others = append(others, name)
			}
		}
		c.net.Partition([]string{lagging}, others)
		for range 40 { // 160 KB, twice what a log record holds
			if err := commitOfSize(c.heaps[leader], uuid.New(), 4000); err != nil {
				t.Fatal(err)
			}
		}
		c.net.Heal()
		waitCond(t, "the lagging replica to catch up", c.converged)
		st := c.nodes[lagging].disk.wal.Stats()
		if st.Records > st.Appends {
			break
		}
		if round == 5 {
			t.Fatalf("the lagging node's log after 5 catch-ups: %d records in %d appends, want some appends of several records", st.Records, st.Appends)
		}
		t.Logf("round %d: %s caught up one record an append; again", round, lagging)
	}
	_, want := c.heaps[c.waitLeader()].Digest()
	c.kill(lagging)
	c.add(lagging, true, func(cfg *Config) { cfg.DataDir = "/data/" + lagging })
	h := c.open(lagging, "bank")
	if _, got := h.Digest(); got != want {
		t.Fatalf("%s after a restart holds other objects than the leader", lagging)
	}
}
