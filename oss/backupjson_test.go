package oss_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// TestBackupInfoDigestInJSONIsHex: a restore's answer printed its SHA-256
// as 32 numbers alone, which no one compares with sha256sum's line. It
// carries SHA256Hex beside them now; the numbers stay, so a client of an
// earlier version still reads the answer, and the answer reads back whole.
func TestBackupInfoDigestInJSONIsHex(t *testing.T) {
	info := oss.RestoreInfo{Backup: oss.BackupInfo{Heap: "h", Index: 7, Objects: 1, Roots: 2, Bytes: 3, SHA256: sha256.Sum256([]byte("x"))}, Commits: 4, Index: 9}
	p, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	numbers, err := json.Marshal(info.Backup.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf(`"SHA256Hex":"%x"`, info.Backup.SHA256),
		fmt.Sprintf(`"SHA256":%s`, numbers),
		`"Heap":"h","Index":7,"Objects":1,"Roots":2,"Bytes":3`,
	} {
		if !strings.Contains(string(p), want) {
			t.Errorf("JSON %s; want %s", p, want)
		}
	}
	var back oss.RestoreInfo
	if err := json.Unmarshal(p, &back); err != nil || back != info {
		t.Fatalf("read back: %+v, %v; want %+v", back, err, info)
	}
	// A client of an earlier version: BackupInfo's fields without the method.
	var old struct {
		Backup struct {
			Heap   string
			SHA256 [32]byte
		}
	}
	if err := json.Unmarshal(p, &old); err != nil || old.Backup.SHA256 != info.Backup.SHA256 || old.Backup.Heap != "h" {
		t.Fatalf("an earlier client's read: %+v, %v", old, err)
	}
}
