package oss_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// parsedBackup is what a backup holds, as its format says, without the
// versions and the index (a restore gives the objects new ones).
type parsedBackup struct {
	objects map[uuid.UUID][]byte
	roots   map[string]uuid.UUID
	order   []int64 // the offset of every record, the end's last
}

// parseBackup reads a backup by its documented layout (oss/backup.go).
func parseBackup(t *testing.T, b []byte) parsedBackup {
	t.Helper()
	p := parsedBackup{objects: map[uuid.UUID][]byte{}, roots: map[string]uuid.UUID{}}
	if string(b[:8]) != "OSSHEAPB" || binary.BigEndian.Uint32(b[8:12]) != oss.BackupVersion {
		t.Fatalf("backup header %q", b[:12])
	}
	for off := 12; off < len(b); {
		p.order = append(p.order, int64(off))
		kind, n := b[off], int(binary.BigEndian.Uint32(b[off+1:]))
		pl := b[off+5 : off+5+n]
		switch kind {
		case 'O':
			p.objects[uuid.UUID(pl[:16])] = bytes.Clone(pl[24:])
		case 'R':
			p.roots[string(pl[16:])] = uuid.UUID(pl[:16])
		}
		off += 9 + n
	}
	return p
}

func equalBackups(t *testing.T, what string, got, want parsedBackup) {
	t.Helper()
	if len(got.objects) != len(want.objects) || len(got.roots) != len(want.roots) {
		t.Fatalf("%s: %d objects and %d roots; want %d and %d", what, len(got.objects), len(got.roots), len(want.objects), len(want.roots))
	}
	for id, v := range want.objects {
		if !bytes.Equal(got.objects[id], v) {
			t.Fatalf("%s: object %v is %x; want %x", what, id, got.objects[id], v)
		}
	}
	for name, id := range want.roots {
		if got.roots[name] != id {
			t.Fatalf("%s: root %q is %v; want %v", what, name, got.roots[name], id)
		}
	}
}

func backupOf(t *testing.T, h *oss.Heap) ([]byte, oss.BackupInfo) {
	t.Helper()
	var buf bytes.Buffer
	info, err := h.Backup(context.Background(), &buf, &oss.BackupOptions{Fresh: true})
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if info.Bytes != int64(buf.Len()) {
		t.Fatalf("Backup says %d bytes, wrote %d", info.Bytes, buf.Len())
	}
	return buf.Bytes(), info
}

const bankAccounts, bankStart = 40, 1000

// bkStartBank creates the bank: accounts of bankStart each, padded so the
// heap is some hundreds of KiB, found from the root "accounts".
func bkStartBank(t *testing.T, h *oss.Heap) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, bankAccounts)
	for i := range ids {
		ids[i] = uuid.New()
	}
	err := h.Update(context.Background(), func(tx *oss.Tx) error {
		for _, id := range ids {
			if err := oss.Put(tx, id, bkAccount{Balance: bankStart, Pad: strings.Repeat("x", 8<<10)}); err != nil {
				return err
			}
		}
		list := uuid.New()
		if err := oss.Put(tx, list, ids); err != nil {
			return err
		}
		return tx.SetRoot("accounts", list)
	})
	if err != nil {
		t.Fatalf("creating the bank: %v", err)
	}
	return ids
}

type bkAccount struct {
	Balance int
	Pad     string
}

// bkBankTotal reads every bkAccount from the root, in one View.
func bkBankTotal(t *testing.T, h *oss.Heap) int {
	t.Helper()
	total := 0
	err := h.View(context.Background(), func(tx *oss.Tx) error {
		list, err := tx.Root("accounts")
		if err != nil {
			return err
		}
		ids, err := oss.Get[[]uuid.UUID](tx, list)
		if err != nil {
			return err
		}
		for _, id := range ids {
			a, err := oss.Get[bkAccount](tx, id)
			if err != nil {
				return err
			}
			total += a.Balance
		}
		return nil
	}, &oss.ViewOptions{Fresh: true})
	if err != nil {
		t.Fatalf("reading the bank: %v", err)
	}
	return total
}

// A backup taken on a follower of a 3-node cluster while clients on the
// other nodes keep moving money is one state: restored on a fresh
// cluster, its accounts add up, and every object and root reads back
// byte for byte (a backup of the restored heap holds what the first one
// held).
func TestBackupRoundTripUnderLoad(t *testing.T) {
	t.Parallel()
	src := osstest.Start(t, 3, nil)
	h := src.Heap("n1", "bank")
	ids := bkStartBank(t, h)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var moved atomic.Int64
	for w, node := range []string{"n1", "n3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hw := src.Heap(node, "bank")
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				from, to := ids[i%len(ids)], ids[(i*7+1)%len(ids)]
				err := hw.Update(context.Background(), func(tx *oss.Tx) error {
					a, err := oss.Get[bkAccount](tx, from)
					if err != nil {
						return err
					}
					b, err := oss.Get[bkAccount](tx, to)
					if err != nil {
						return err
					}
					a.Balance, b.Balance = a.Balance-3, b.Balance+3
					if err := oss.Put(tx, from, a); err != nil {
						return err
					}
					return oss.Put(tx, to, b)
				})
				if err != nil {
					t.Errorf("transfer: %v", err)
					return
				}
				moved.Add(1)
			}
		}()
	}
	await.Until(t, "transfers under way", func() bool { return moved.Load() > 5 })
	var backups [][]byte
	for range 3 {
		b, info := backupOf(t, src.Heap("n2", "bank"))
		if info.Objects != bankAccounts+1 || info.Roots != 1 {
			t.Errorf("backup at index %d holds %d objects and %d roots", info.Index, info.Objects, info.Roots)
		}
		backups = append(backups, b)
	}
	close(stop)
	await.Wait(t, &wg, "the transfers")
	dst := osstest.Start(t, 3, nil)
	for i, b := range backups {
		name := fmt.Sprintf("bank%d", i)
		info, err := dst.Node("n1").RestoreHeap(context.Background(), name, bytes.NewReader(b), nil)
		if err != nil {
			t.Fatalf("RestoreHeap: %v", err)
		}
		if info.Backup.Objects != bankAccounts+1 || info.Commits < 2 {
			t.Errorf("restore: %+v", info)
		}
		rh := dst.Heap("n3", name)
		// The root came last: every object was committed before it.
		err = rh.View(context.Background(), func(tx *oss.Tx) error {
			for _, id := range ids {
				if v, err := tx.Version(id); err != nil || v >= info.Index {
					t.Errorf("account %v restored at version %d (%v); want before the roots' commit %d", id, v, err, info.Index)
				}
			}
			return nil
		}, &oss.ViewOptions{Fresh: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := bkBankTotal(t, rh); got != bankAccounts*bankStart {
			t.Errorf("restored bank %d holds %d in all; want %d", i, got, bankAccounts*bankStart)
		}
		again, _ := backupOf(t, rh)
		equalBackups(t, name, parseBackup(t, again), parseBackup(t, b))
	}
}

// bkStartNode starts a single in-memory node whose commits are at most
// maxCommit bytes.
func bkStartNode(t *testing.T, maxCommit int) *oss.Node {
	t.Helper()
	n, err := oss.Start(context.Background(), &oss.Config{MaxCommitBytes: maxCommit})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n
}

// fill writes objects of size bytes each, and roots naming some of them.
func bkFill(t testing.TB, h *oss.Heap, objects, size, roots int) {
	t.Helper()
	var ids []uuid.UUID
	per := min(8, max(1, (16<<10)/size))
	for i := 0; i < objects; {
		err := h.Update(context.Background(), func(tx *oss.Tx) error {
			for j := 0; j < per && i+j < objects; j++ {
				id := uuid.New()
				ids = append(ids, id)
				if err := oss.Put(tx, id, bytes.Repeat([]byte{byte(i + j)}, size)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("fill: %v", err)
		}
		i += per
	}
	for i := 0; i < roots; i += 100 {
		err := h.Update(context.Background(), func(tx *oss.Tx) error {
			for j := i; j < min(i+100, roots); j++ {
				if err := tx.SetRoot(fmt.Sprintf("root-%05d-%s", j, strings.Repeat("r", 20)), ids[j%len(ids)]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("fill roots: %v", err)
		}
	}
}

// A heap whose values are near the commit limit, and whose roots take
// more than one commit, restores in many commits, each within the limit,
// and reads back byte for byte.
func TestRestoreAcrossCommits(t *testing.T) {
	const max = 64 << 10
	n := bkStartNode(t, max)
	h, err := n.CreateHeap(context.Background(), "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	bkFill(t, h, 1, max-200, 0) // one value as large as a commit takes
	bkFill(t, h, 16, max/3, 3000)
	b, info := backupOf(t, h)
	if info.Objects != 17 || info.Roots != 3000 {
		t.Fatalf("backup: %+v", info)
	}
	ri, err := n.RestoreHeap(context.Background(), "big2", bytes.NewReader(b), nil)
	if err != nil {
		t.Fatalf("RestoreHeap: %v", err)
	}
	// 17 objects, two to a commit but the largest alone; 3000 roots of
	// some 60 bytes each: at least 3 more.
	if ri.Commits < 11 || ri.Backup != info {
		t.Errorf("restore: %+v; want at least 11 commits and the backup's info %+v", ri, info)
	}
	h2, err := n.Heap(context.Background(), "big2")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := backupOf(t, h2)
	equalBackups(t, "big2", parseBackup(t, again), parseBackup(t, b))
	if vi, err := oss.VerifyBackup(bytes.NewReader(b)); err != nil || vi != info {
		t.Errorf("VerifyBackup: %+v, %v; want %+v", vi, err, info)
	}
}

// reRecord returns b with the record at off replaced by one of kind and
// payload, its CRC right.
func reRecord(b []byte, off int, kind byte, payload []byte) []byte {
	n := int(binary.BigEndian.Uint32(b[off+1:]))
	rec := []byte{kind, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(rec[1:], uint32(len(payload)))
	rec = append(rec, payload...)
	rec = binary.BigEndian.AppendUint32(rec, crc32.Checksum(rec, crc32.MakeTable(crc32.Castagnoli)))
	return append(append(bytes.Clone(b[:off]), rec...), b[off+9+n:]...)
}

// damaged lists ways to spoil a backup, each with the offset its error
// names.
func bkDamaged(t *testing.T, b []byte) map[string]struct {
	data []byte
	off  int64
} {
	p := parseBackup(t, b)
	o := p.order
	end := int(o[len(o)-1])
	obj, root := int(o[1]), int(o[len(o)-2]) // the first object, the last root
	flip := func(at int) []byte { c := bytes.Clone(b); c[at] ^= 0x40; return c }
	objRec := b[obj:o[2]]
	rootRec := b[root:end]
	dupObj := append(append(bytes.Clone(b[:o[2]]), objRec...), b[o[2]:]...)
	dupRoot := append(append(bytes.Clone(b[:end]), rootRec...), b[end:]...)
	huge := bytes.Clone(b)
	binary.BigEndian.PutUint32(huge[obj+1:], 1<<30)
	badSum := bytes.Clone(b[end+5 : end+5+48])
	badSum[20] ^= 1
	return map[string]struct {
		data []byte
		off  int64
	}{
		"magic":             {flip(2), 0},
		"version":           {flip(11), 8},
		"object's value":    {flip(int(o[2]) - 6), int64(obj)},
		"root's name":       {flip(end - 6), int64(root)},
		"end's CRC":         {flip(end + 10), int64(end)},
		"end's SHA-256":     {reRecord(b, end, 'E', badSum), int64(end)},
		"end's count":       {reRecord(b, end, 'E', append(binary.BigEndian.AppendUint64(nil, 99), b[end+13:end+5+48]...)), int64(end)},
		"truncated header":  {b[:5], 5},
		"truncated at info": {b[:14], 12},
		"truncated record":  {b[:obj+100], int64(obj)},
		"truncated at end":  {b[:end], int64(end)},
		"no end at all":     {b[:end+20], int64(end)},
		"record over limit": {huge, int64(obj)},
		"duplicate object":  {dupObj, o[2]},
		"duplicate root":    {dupRoot, int64(end)},
		"trailing garbage":  {append(bytes.Clone(b), 0), int64(len(b))},
	}
}

// Every kind of damage is refused, with an error naming its offset, by
// VerifyBackup and by RestoreHeap, which keeps nothing.
func TestRestoreRefusesDamage(t *testing.T) {
	n := bkStartNode(t, 64<<10)
	h, err := n.CreateHeap(context.Background(), "src", nil)
	if err != nil {
		t.Fatal(err)
	}
	bkFill(t, h, 20, 3000, 5)
	b, _ := backupOf(t, h)
	i := 0
	for what, d := range bkDamaged(t, b) {
		i++
		_, verr := oss.VerifyBackup(bytes.NewReader(d.data))
		name := fmt.Sprintf("spoilt%d", i)
		_, rerr := n.RestoreHeap(context.Background(), name, bytes.NewReader(d.data), nil)
		for call, err := range map[string]error{"VerifyBackup": verr, "RestoreHeap": rerr} {
			var be *oss.BackupError
			if !errors.Is(err, oss.ErrBadBackup) || !errors.As(err, &be) || be.Offset != d.off || !strings.Contains(err.Error(), fmt.Sprintf("offset %d", d.off)) {
				t.Errorf("%s of a backup with %s: %v; want ErrBadBackup at offset %d", call, what, err, d.off)
			}
		}
		if rerr != nil && !strings.Contains(rerr.Error(), "nothing was") {
			t.Errorf("RestoreHeap of a backup with %s: %v; want it to say nothing was kept", what, rerr)
		}
		bkAwaitNoHeap(t, n, name)
	}
}

func bkAwaitNoHeap(t *testing.T, n *oss.Node, name string) {
	t.Helper()
	await.Until(t, "heap "+name+" gone", func() bool {
		_, err := n.Heap(context.Background(), name)
		return errors.Is(err, oss.ErrNoHeap)
	})
}

// A restore onto a heap that exists is refused, and writes nothing.
func TestRestoreOntoExistingHeap(t *testing.T) {
	n := bkStartNode(t, 0)
	h, err := n.CreateHeap(context.Background(), "here", nil)
	if err != nil {
		t.Fatal(err)
	}
	bkFill(t, h, 3, 10, 1)
	before, _ := backupOf(t, h)
	other, err := n.CreateHeap(context.Background(), "other", nil)
	if err != nil {
		t.Fatal(err)
	}
	bkFill(t, other, 5, 10, 2)
	b, _ := backupOf(t, other)
	_, err = n.RestoreHeap(context.Background(), "here", bytes.NewReader(b), nil)
	if !errors.Is(err, oss.ErrHeapExists) || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("RestoreHeap onto an existing heap: %v; want ErrHeapExists, nothing written", err)
	}
	after, _ := backupOf(t, h)
	equalBackups(t, "here", parseBackup(t, after), parseBackup(t, before))
}

// bkCancelWriter cancels a context at its first write.
type bkCancelWriter struct{ cancel context.CancelFunc }

func (w bkCancelWriter) Write(b []byte) (int, error) { w.cancel(); return len(b), nil }

// bkCancelReader cancels a context once after bytes have been read.
type bkCancelReader struct {
	r      io.Reader
	after  int
	cancel context.CancelFunc
}

func (r *bkCancelReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if r.after -= n; r.after <= 0 {
		r.cancel()
	}
	return n, err
}

// A backup whose ctx ends midway stops with ctx's error; a restore whose
// ctx ends midway, after commits, drops the heap it created.
func TestBackupRestoreCancelled(t *testing.T) {
	n := bkStartNode(t, 64<<10)
	h, err := n.CreateHeap(context.Background(), "src", nil)
	if err != nil {
		t.Fatal(err)
	}
	bkFill(t, h, 1600, 1000, 0)
	ctx, cancel := context.WithCancel(context.Background())
	_, err = h.Backup(ctx, bkCancelWriter{cancel}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Backup whose ctx ended midway: %v; want context.Canceled", err)
	}
	b, _ := backupOf(t, h)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	ri, err := n.RestoreHeap(ctx, "dst", &bkCancelReader{r: bytes.NewReader(b), after: len(b) / 2, cancel: cancel}, nil)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "nothing was kept") {
		t.Errorf("RestoreHeap whose ctx ended midway: %v (%+v); want context.Canceled, nothing kept", err, ri)
	}
	bkAwaitNoHeap(t, n, "dst")
}

// A backup holding an object larger than the restoring node's commit
// limit is refused at that object's offset, and nothing is kept.
func TestRestoreRefusesObjectOverNodeLimit(t *testing.T) {
	big := bkStartNode(t, 0)
	h, err := big.CreateHeap(context.Background(), "wide", nil)
	if err != nil {
		t.Fatal(err)
	}
	bkFill(t, h, 3, 200<<10, 1)
	b, _ := backupOf(t, h)
	small := bkStartNode(t, 64<<10)
	_, err = small.RestoreHeap(context.Background(), "wide", bytes.NewReader(b), nil)
	at := fmt.Sprintf("at offset %d ", parseBackup(t, b).order[1])
	if !errors.Is(err, oss.ErrTooLarge) || !strings.Contains(err.Error(), at) || !strings.Contains(err.Error(), "MaxCommitBytes") || !strings.Contains(err.Error(), "nothing was kept") {
		t.Errorf("RestoreHeap of objects over the node's limit: %v; want ErrTooLarge at the first object, nothing kept", err)
	}
	bkAwaitNoHeap(t, small, "wide")
}
