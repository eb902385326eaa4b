package oss_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A backup whose info record names its heap with what no heap's name may
// hold (a control character a terminal acts on) is refused at that
// record by VerifyBackup and RestoreHeap, before anything is created: the
// name is echoed in answers and logs.
func TestBackupInfoHeapNameChecked(t *testing.T) {
	ctx := context.Background()
	n := bkStartNode(t, 0)
	h, err := n.CreateHeap(ctx, "src", nil)
	if err != nil {
		t.Fatal(err)
	}
	bkFill(t, h, 3, 10, 1)
	b, _ := backupOf(t, h)
	for _, name := range []string{"a\x1b[2Jb", "", string(bytes.Repeat([]byte{'n'}, 256)), "a\xffb"} {
		payload := binary.BigEndian.AppendUint64(nil, 7)
		bad := reSum(t, reRecord(b, 12, 'I', append(payload, name...)))
		var be *oss.BackupError
		if _, err := oss.VerifyBackup(bytes.NewReader(bad)); !errors.As(err, &be) || be.Offset != 12 {
			t.Errorf("VerifyBackup of a backup of heap %q: %v; want ErrBadBackup at offset 12", name, err)
		}
		_, err := n.RestoreHeap(ctx, "dst", bytes.NewReader(bad), nil)
		if !errors.As(err, &be) || be.Offset != 12 {
			t.Errorf("RestoreHeap of a backup of heap %q: %v; want ErrBadBackup at offset 12", name, err)
		}
		if _, err := n.Heap(ctx, "dst"); !errors.Is(err, oss.ErrNoHeap) {
			t.Errorf("heap dst after a refused restore: %v; want ErrNoHeap", err)
		}
	}
}

// reSum returns b with its end record's SHA-256 made right again.
func reSum(t *testing.T, b []byte) []byte {
	o := parseBackup(t, b).order
	end := int(o[len(o)-1])
	sum := sha256.Sum256(b[:end])
	payload := append(bytes.Clone(b[end+5:end+5+16]), sum[:]...)
	return reRecord(b, end, 'E', payload)
}

// unread fails a test that reads it.
type unread struct{ t *testing.T }

func (u unread) Read([]byte) (int, error) {
	u.t.Errorf("the backup was read for a restore whose name is refused")
	return 0, errors.New("read")
}

// A restore under a name no new heap may have is refused before its
// backup is read.
func TestRestoreNameCheckedFirst(t *testing.T) {
	n := bkStartNode(t, 0)
	for _, name := range []string{"", "oss:x", "a\u202eb", "a\x1bb", "all*"} {
		_, err := n.RestoreHeap(context.Background(), name, unread{t}, nil)
		if !errors.Is(err, oss.ErrInvalidHeapName) {
			t.Errorf("RestoreHeap %q: %v; want ErrInvalidHeapName", name, err)
		}
	}
}
