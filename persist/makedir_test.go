package persist

import "testing"

// A log opened in a directory it creates, with a record synced in it,
// keeps the record through a power loss that takes back every name not
// synced: the new directories' names are synced in their parents (a
// power loss after the first sync of the log's segment left no
// directory, and the log opened empty without a word).
func TestNewLogDirectoryOutlivesPowerLoss(t *testing.T) {
	rec := NewRecFS()
	w, err := OpenWAL(rec, "node/wal", WALOptions{Logger: quiet()}, func(uint64, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AppendSync(enumRecord(1)); err != nil {
		t.Fatal(err)
	}
	img, _ := rec.CrashAt(rec.Points()-1, DataLost, NamesLost)
	w.Close()
	if err := checkWALImage(img, "node/wal", WALOptions{Logger: quiet()}, 1, 0, 1); err != nil {
		t.Fatal(err)
	}
}

// A store opened on stripe directories it creates keeps its first
// checkpoint through a power loss that takes back every name not synced
// (it opened at no checkpoint at all).
func TestNewStoreDirectoryOutlivesPowerLoss(t *testing.T) {
	rec := NewRecFS()
	dirs := stripeDirs(2)
	s, err := OpenStore(rec, dirs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint([]Object{obj("h", 1, 1, "one")}, map[string][]byte{"h": []byte("m")}); err != nil {
		t.Fatal(err)
	}
	img, _ := rec.CrashAt(rec.Points()-1, DataLost, NamesLost)
	s.Close()
	enum := storeEnum{objs: map[uint64]values{1: {1: "one"}}, meta: map[uint64]string{1: "m"}}
	if err := checkStoreImage(img, dirs, enum, 1, 1); err != nil {
		t.Fatal(err)
	}
}

// MakeDir syncs the parent of every directory on the path at every call,
// those it creates and those that exist.
func TestMakeDirSyncsNewDirectoriesParents(t *testing.T) {
	rec := NewRecFS()
	if err := MakeDir(rec, "a"); err != nil {
		t.Fatal(err)
	}
	if err := MakeDir(rec, "a/b/c"); err != nil {
		t.Fatal(err)
	}
	if err := MakeDir(rec, "a/b/c"); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for k := range rec.Points() {
		op, _ := rec.Point(k)
		ops = append(ops, op)
	}
	want := "[mkdir a syncdir . mkdir a/b/c syncdir . syncdir a syncdir a/b syncdir . syncdir a syncdir a/b]"
	if got := fmtOps(ops); got != want {
		t.Fatalf("operations %s, want %s", got, want)
	}
	img, _ := rec.CrashAt(rec.Points()-1, DataLost, NamesLost)
	if _, err := img.ReadDir("a/b/c"); err != nil {
		t.Fatalf("after a power loss: %v", err)
	}
}

func fmtOps(ops []string) string {
	out := "["
	for i, op := range ops {
		if i > 0 {
			out += " "
		}
		out += op
	}
	return out + "]"
}
