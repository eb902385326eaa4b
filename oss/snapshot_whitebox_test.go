package oss

import (
	"time"

	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/objectsharing/oss/oss/pki"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

// readSizeHandler hands a node's snapshot streams over with a body that
// remembers the largest read asked of it: how much of a snapshot the
// receiver takes at once.
type readSizeHandler struct {
	transport.Handler
	largest *atomic.Int64
}

func (h readSizeHandler) HandleStream(ctx context.Context, from string, header []byte, body io.Reader) error {
	return h.Handler.HandleStream(ctx, from, header, &readSizeReader{r: body, largest: h.largest})
}

type readSizeReader struct {
	r       io.Reader
	largest *atomic.Int64
}

func (r *readSizeReader) Read(p []byte) (int, error) {
	for {
		old := r.largest.Load()
		if int64(len(p)) <= old || r.largest.CompareAndSwap(old, int64(len(p))) {
			break
		}
	}
	return r.r.Read(p)
}

// A lagging learner installs a snapshot of 8 MiB that its leader streams,
// reading it in pieces of at most 1 MiB as it decodes: the encoding is
// never whole in the learner's memory.
func TestSnapshotStreamIsDecodedAsItArrives(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodesWith(t, 19, lagCap)
	var largest atomic.Int64
	c.wrapHandler = func(name string, hd transport.Handler) transport.Handler {
		return readSizeHandler{Handler: hd, largest: &largest}
	}
	names := []string{"a", "b", "c", "d"}
	for i, name := range names {
		c.add(name, i > 0, nil)
	}
	want := c.placement("big", 3)
	heaps := map[string]*Heap{}
	var learner string
	for _, name := range names {
		heaps[name] = c.open(name, "big")
		if !slices.Contains(want, name) {
			learner = name
		}
	}
	var others []string
	for _, name := range names {
		if name != learner {
			others = append(others, name)
		}
	}
	c.net.Partition([]string{learner}, others)
	for i := range 8 {
		value := bytes.Repeat([]byte{byte('a' + i)}, 1<<20)
		putAgainUntilDone(t, heaps[want[0]], uuid.UUID{0: 2, 15: byte(i)}, value)
	}
	for i := range 100 { // past the log's compaction: the learner needs a snapshot
		putAgainUntilDone(t, heaps[want[i%3]], uuid.UUID{0: 1, 15: byte(i)}, i)
	}
	before := heaps[learner].snapshots.Load()
	c.net.Heal()
	_, wantDigest := heaps[want[0]].Digest()
	waitCond(t, "the learner to catch up", func() bool {
		_, d := heaps[learner].Digest()
		return d == wantDigest
	})
	if heaps[learner].snapshots.Load() == before {
		t.Fatal("the learner caught up without a snapshot: the test did not test what it says")
	}
	if got := largest.Load(); got > 1<<20 {
		t.Fatalf("a snapshot stream was read %d bytes at once, more than a piece of 1 MiB", got)
	}
}

// snapHeader is the header of a snapshot stream at index for a heap of
// the node, as its own leader would send it.
func snapHeader(t *testing.T, n *Node, h *Heap, index uint64) []byte {
	t.Helper()
	m := raftpb.Message{Type: raftpb.MsgSnap, From: n.id, To: n.id, Term: 1,
		Snapshot: &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: index, Term: 1, ConfState: raftpb.ConfState{Voters: []uint64{n.id}}}}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	e := raftEnvelope{Heap: h.name, Msg: b, Group: h.group}
	return e.appendTo(nil)
}

// endlessReader yields a prefix, then the same piece for ever, counting
// what it yielded.
type endlessReader struct {
	prefix, piece []byte
	off           int
	n             int64
}

func (r *endlessReader) Read(p []byte) (int, error) {
	k := 0
	for k < len(p) {
		src := r.piece
		off := r.off
		if r.prefix != nil {
			src = r.prefix
		}
		c := copy(p[k:], src[off:])
		k += c
		r.off += c
		if r.off == len(src) {
			r.off, r.prefix = 0, nil
		}
	}
	r.n += int64(k)
	return k, nil
}

// snapPrefix is the start of a snapshot at index whose objects array
// claims count objects.
func snapPrefix(index, count uint64) []byte {
	b := []byte{0xa5, 0x01, 0x1b}
	b = append(b, be64(index)...)
	b = append(b, 0x02, 0x00, 0x03, 0x9b)
	return append(b, be64(count)...)
}

func be64(v uint64) []byte {
	return []byte{byte(v >> 56), byte(v >> 48), byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// A node takes Config.MaxSnapshotStreams snapshot streams at once and
// Config.MaxSnapshotBytes of them: a stream beyond the first is refused at
// once, and one that brings more bytes (endless objects, or a value that
// claims a terabyte) is refused with a clear error, having been read no
// further than the bound and a buffer. Nothing of a refused stream is
// installed, and the bounds are let go.
func TestSnapshotStreamsAreBounded(t *testing.T) {
	ctx := context.Background()
	const limit = 1 << 20
	n, err := Start(ctx, &Config{Logger: testLogger(), MaxSnapshotStreams: 1, MaxSnapshotBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	h, err := n.CreateHeapIfNotExists(ctx, "h", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := update(ctx, h, func(tx *Tx) error { return Put(tx, uuid.UUID{1}, "kept") }); err != nil {
		t.Fatal(err)
	}
	_, digest := h.Digest()
	header := snapHeader(t, n, h, 1000)

	pr, pw := io.Pipe()
	first := make(chan error, 1)
	go func() { first <- n.receiveSnapshot(ctx, n.cfg.Name, header, pr) }()
	waitCond(t, "the first stream to be taken", func() bool { return n.snapIn.streams.Load() == 1 })
	second := &endlessReader{piece: []byte{0}}
	err = n.receiveSnapshot(ctx, n.cfg.Name, header, second)
	if !errors.Is(err, errSnapshotStreams) || second.n != 0 {
		t.Fatalf("a second stream at once: %v, %d bytes read; want it refused unread", err, second.n)
	}
	pw.CloseWithError(io.ErrClosedPipe)
	if err := await.Recv(t, first, "the stream cut short to be refused"); err == nil {
		t.Fatal("a stream cut short was taken")
	}

	object := []byte{0x83, 0x50}
	object = append(object, make([]byte, 16)...)
	object = append(object, 0x01, 0x59, 0x10, 0x00)
	object = append(object, make([]byte, 4096)...)
	for what, body := range map[string]*endlessReader{
		"endless objects":          {prefix: snapPrefix(1000, 1<<40), piece: object},
		"a value of a terabyte":    {prefix: append(append(snapPrefix(1000, 1), 0x83, 0x50), append(make([]byte, 16), 0x01, 0x5b, 0, 0, 1, 0, 0, 0, 0, 0)...), piece: make([]byte, 4096)},
		"bytes after the snapshot": {prefix: append(snapPrefix(1000, 0), 0x04, 0xf6, 0x05, 0xf6), piece: []byte{0}},
	} {
		err := n.receiveSnapshot(ctx, n.cfg.Name, header, body)
		switch {
		case what == "bytes after the snapshot":
			if err == nil || body.n > 64<<10 {
				t.Fatalf("%s: %v after %d bytes; want it refused at once", what, err, body.n)
			}
		case !errors.Is(err, errSnapshotBytes):
			t.Fatalf("%s: %v; want it refused past MaxSnapshotBytes", what, err)
		case body.n > limit+64<<10:
			t.Fatalf("%s: %d bytes read before the refusal, more than the bound %d and a buffer", what, body.n, limit)
		}
	}
	if s, b := n.snapIn.streams.Load(), n.snapIn.bytes.Load(); s != 0 || b != 0 {
		t.Fatalf("after the streams ended the node counts %d streams and %d bytes", s, b)
	}
	if _, d := h.Digest(); d != digest {
		t.Fatal("a refused snapshot changed the heap")
	}
}

// A durable learner writes a leader's snapshot to the striped store whole
// before its log records it. If the power fails in between (here: the log
// refuses every write after the store's manifest, then the disk loses
// what was not synced), the restarted learner takes the store's state,
// newer than its log, and goes on from it.
func TestSnapshotInTheStoreBeforeTheLogSurvivesACrash(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodesWith(t, 20, lagCap)
	names := []string{"a", "b", "c", "d"}
	mems := map[string]*persist.MemFS{}
	faults := map[string]*persist.FaultFS{}
	durable := func(name string) func(*Config) {
		return func(cfg *Config) { cfg.DataDir = "/data/" + name }
	}
	for i, name := range names {
		mems[name] = persist.NewMemFS()
		faults[name] = &persist.FaultFS{FS: mems[name]}
		c.fss[name] = faults[name]
		c.add(name, i > 0, durable(name))
	}
	want := c.placement("bank", 3)
	var learner string
	for _, name := range names {
		c.open(name, "bank")
		if !slices.Contains(want, name) {
			learner = name
		}
	}
	ids := seedBank(t, c.heaps[want[0]])
	var others []string
	for _, name := range names {
		if name != learner {
			others = append(others, name)
		}
	}
	c.net.Partition([]string{learner}, others)
	for i := range 300 {
		untilCommitted(t, "a transfer while the learner is cut off", c.heaps[want[i%3]], func(tx *Tx) error {
			return transferIn(tx, ids[i%8], ids[(i+1)%8], 1)
		})
	}
	var stored atomic.Bool
	var refused atomic.Int64
	faults[learner].SetRule(func(op persist.Op, name string) error {
		if op == persist.OpRename && strings.HasSuffix(name, "MANIFEST.tmp") {
			stored.Store(true)
		}
		if stored.Load() && op == persist.OpWrite && strings.Contains(name, "/wal/") {
			refused.Add(1)
			return syscall.EIO
		}
		return nil
	})
	c.net.Heal()
	// The restored state in the store, ahead of the log.
	var at uint64
	n := c.nodes[learner]
	waitCond(t, "the learner's store to take the snapshot", func() bool {
		if refused.Load() == 0 {
			return false
		}
		for name, blob := range n.disk.store.Manifest().Spaces {
			var sm storeMeta
			var meta raftpb.SnapshotMetadata
			if heap, _, _, ok := parseSpace(name); ok && heap == "bank" && codec.Unmarshal(blob, &sm) == nil && sm.Restored && meta.Unmarshal(sm.SnapMeta) == nil {
				at = meta.Index
				return true
			}
		}
		return false
	})
	c.net.Partition([]string{learner}, others)
	crashed := mems[learner].Crash(nil)
	c.kill(learner)

	c.fss[learner] = crashed
	c.add(learner, true, durable(learner))
	h := c.nodes[learner].replicaOf("bank")
	if h == nil {
		t.Fatal("the learner did not recover its replica")
	}
	if got := h.Stats().Applied; got < at {
		t.Fatalf("the learner restarted at %d, before the snapshot at %d the store held", got, at)
	}
	c.heaps[learner] = h
	c.net.Heal()
	c.checkBank(ids)
	untilCommitted(t, "a transfer after the learner's restart", c.heaps[want[1]], func(tx *Tx) error {
		return transferIn(tx, ids[0], ids[1], 1)
	})
	c.checkBank(ids)
}

// A durable learner installs a snapshot larger than a log record may be:
// the state goes to the striped store, not into the log, and the learner
// restarts from it. With OSS_LONG the record is the log format's own
// limit (persist.MaxRecord, 64 MiB) and the snapshot 72 MiB; by default
// the nodes' log records are lowered to 4 MiB (Config.walRecordBytes, as
// the log refused the 64 MiB one) and the snapshot holds 6 MiB, a twelfth
// of the bytes through the race detector for the same path.
func TestSnapshotLargerThanALogRecordInstallsOnDisk(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	mib, record := 6, 4<<20
	if os.Getenv("OSS_LONG") != "" {
		mib, record = 72, 0
	}
	// The data directories are made before the cluster, so that they are
	// removed after its nodes close: a log whose directory is removed
	// under it stops and marks the directory (persist.ErrGone).
	root := t.TempDir()
	c := startTestNodesWith(t, 22, func(cfg *Config) {
		checkpointOften(64, 16)(cfg)
		cfg.walRecordBytes = record
	})
	if limit := walRecordLimit(&Config{walRecordBytes: record}); mib<<20 <= limit {
		t.Fatalf("%d MiB of values fit in a log record of %d bytes: the test does not test what it says", mib, limit)
	}
	durable := func(name string) func(*Config) {
		return func(cfg *Config) { cfg.DataDir = filepath.Join(root, name) }
	}
	c.add("a", false, durable("a"))
	h := c.open("a", "big")
	ctx := context.Background()
	// Each commit is bounded by a minute, not update's 5 s: a megabyte
	// commit synced to the disk under the race detector at load 24 took
	// more than 5 s (twice in 4 runs).
	put := func(fn func(*Tx) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := h.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	value := bytes.Repeat([]byte{'v'}, 1<<20)
	for i := range mib {
		put(func(tx *Tx) error { return Put(tx, uuid.UUID{0: 3, 15: byte(i)}, value) })
	}
	for i := range 100 { // past the log's compaction: a new replica needs a snapshot
		put(func(tx *Tx) error { return Put(tx, uuid.UUID{0: 4, 15: byte(i)}, i) })
	}
	if err := c.nodes["a"].Grant(ctx, Grant{Who: "l", Heap: "big", Perm: PermRead}); err != nil {
		t.Fatal(err) // a client opens only the heaps it may read
	}
	c.add("l", true, func(cfg *Config) { durable("l")(cfg); cfg.Role = pki.RoleClient })
	// The open streams and installs 72 MiB (OSS_LONG): 15 s alone under
	// the race detector, more than open's 20 s in CI beside other packages.
	l := c.openWithin("l", "big", await.Deadline)
	objects := mib + 100
	if l.snapshots.Load() == 0 || l.Stats().Objects != objects {
		t.Fatalf("the learner holds %d objects after %d snapshots, want %d", l.Stats().Objects, l.snapshots.Load(), objects)
	}
	_, want := h.Digest()
	c.kill("l")
	c.add("l", true, func(cfg *Config) { durable("l")(cfg); cfg.Role = pki.RoleClient })
	l = c.nodes["l"].replicaOf("big")
	if l == nil {
		t.Fatal("the learner did not recover its replica")
	}
	if _, got := l.Digest(); got != want || l.Stats().Objects != objects {
		t.Fatalf("restarted, the learner holds %d objects, digest %x; want %d, %x", l.Stats().Objects, got, objects, want)
	}
}

// putAgainUntilDone puts v at id, again while the outcome is unknown or
// no leader is in reach (an election on a loaded machine, with megabyte
// commits under the race detector): the put is the same every time, so
// doing it twice changes nothing. It fails the test after a minute.
func putAgainUntilDone[T any](t *testing.T, h *Heap, id uuid.UUID, v T) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := update(context.Background(), h, func(tx *Tx) error { return Put(tx, id, v) })
		var unknown *UnknownOutcomeError
		if err == nil {
			return
		}
		if (!errors.Is(err, ErrNoQuorum) && !errors.As(err, &unknown)) || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
}
