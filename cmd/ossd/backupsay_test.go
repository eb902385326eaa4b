package main

import (
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// TestBackupSaysOneObjectInTheSingular: "1 objects, 1 roots, 1 bytes".
func TestBackupSaysOneObjectInTheSingular(t *testing.T) {
	var b strings.Builder
	if err := sayBackup(&b, oss.BackupInfo{Heap: "h", Objects: 1, Roots: 1, Bytes: 1}, "F"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), ": 1 object, 1 root, 1 byte to F") {
		t.Errorf("said %q", b.String())
	}
	b.Reset()
	if err := sayBackup(&b, oss.BackupInfo{Heap: "h", Objects: 2, Roots: 0, Bytes: 90}, "F"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), ": 2 objects, 0 roots, 90 bytes to F") {
		t.Errorf("said %q", b.String())
	}
}
