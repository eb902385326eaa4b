package persist

import (
	"fmt"
	"github.com/objectsharing/oss/internal/testkit/await"
	"sync"
	"sync/atomic"
	"testing"
)

// syncKinds is an FS over the operating system's whose files count their
// plain and off-path syncs.
type syncKinds struct {
	OS
	plain, off atomic.Int32
	lastOff    atomic.Bool // the last sync was off the path
}

type syncKindsFile struct {
	File
	k *syncKinds
}

func (k *syncKinds) Create(name string) (File, error) { return k.wrap(k.OS.Create(name)) }
func (k *syncKinds) OpenWrite(name string) (File, error) {
	return k.wrap(k.OS.OpenWrite(name))
}

func (k *syncKinds) wrap(f File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return &syncKindsFile{File: f, k: k}, nil
}

func (f *syncKindsFile) Sync() error {
	f.k.plain.Add(1)
	f.k.lastOff.Store(false)
	return f.File.Sync()
}

func (f *syncKindsFile) SyncOffPath() error {
	f.k.off.Add(1)
	f.k.lastOff.Store(true)
	return f.File.(offPathSyncer).SyncOffPath()
}

// A batch made only of off-path appends syncs through SyncOffPath; one
// with any other append syncs plainly, whatever its off-path appends. The
// records are durable and in order either way.
func TestOffPathAppendsSyncOffThePath(t *testing.T) {
	dir := t.TempDir()
	k := &syncKinds{}
	w, err := OpenWAL(k, dir, WALOptions{}, func(uint64, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	appendOne := func(off bool, rec string) {
		t.Helper()
		errc := make(chan error, 1)
		done := func(_ uint64, err error) { errc <- err }
		if off {
			w.AppendAsyncOffPath(nil, false, done, []byte(rec))
		} else {
			w.AppendAsync(nil, false, done, []byte(rec))
		}
		if err := await.Recv(t, errc, "the appends' sync"); err != nil {
			t.Fatal(err)
		}
	}
	base := k.plain.Load() // the segment's own syncs as it starts
	appendOne(true, "off-0")
	if got := k.off.Load(); got != 1 || k.plain.Load() != base {
		t.Fatalf("an off-path append alone: %d off-path syncs and %d plain, want 1 and 0", got, k.plain.Load()-base)
	}
	appendOne(false, "plain-1")
	if got := k.plain.Load() - base; got != 1 || k.off.Load() != 1 {
		t.Fatalf("an ordinary append: %d plain syncs and %d off-path, want 1 and 1 in all", got, k.off.Load())
	}
	// Many at once, mixed: every batch holding an ordinary append syncs
	// plainly, so no ordinary append is acknowledged on an off-path sync.
	// The log's writer syncs and then acknowledges, so an append's done
	// sees the kind of the sync that made it durable.
	var wg sync.WaitGroup
	var onOff atomic.Int32
	for i := range 64 {
		wg.Go(func() {
			errc := make(chan error, 1)
			if i%2 == 0 {
				w.AppendAsyncOffPath(nil, false, func(_ uint64, err error) { errc <- err }, fmt.Appendf(nil, "mix-%d", i))
			} else {
				w.AppendAsync(nil, false, func(_ uint64, err error) {
					if k.lastOff.Load() {
						onOff.Add(1)
					}
					errc <- err
				}, fmt.Appendf(nil, "mix-%d", i))
			}
			if err := <-errc; err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := onOff.Load(); n > 0 {
		t.Fatalf("%d of 32 ordinary appends acknowledged after an off-path sync", n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	w2, err := OpenWAL(OS{}, dir, WALOptions{}, func(_ uint64, rec []byte) error {
		got = append(got, string(rec))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if len(got) != 66 || got[0] != "off-0" || got[1] != "plain-1" {
		t.Fatalf("replayed %d records starting %q, want 66 starting off-0, plain-1", len(got), got[:min(2, len(got))])
	}
}
