package oss_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// TestBackupInfoDigestInJSONIsHex: a restore's or backup's answer printed
// its SHA-256 as 32 numbers, which no one compares with sha256sum's line.
// It is 64 hex digits now, read back the same, and an older node's
// numbers are still read.
func TestBackupInfoDigestInJSONIsHex(t *testing.T) {
	info := oss.RestoreInfo{Backup: oss.BackupInfo{Heap: "h", Index: 7, Objects: 1, Roots: 2, Bytes: 3, SHA256: sha256.Sum256([]byte("x"))}, Commits: 4, Index: 9}
	p, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`"SHA256":"%x"`, info.Backup.SHA256)
	if !strings.Contains(string(p), want) || !strings.Contains(string(p), `"Heap":"h","Index":7,"Objects":1,"Roots":2,"Bytes":3`) {
		t.Fatalf("JSON %s; want %s and every other field", p, want)
	}
	var back oss.RestoreInfo
	if err := json.Unmarshal(p, &back); err != nil || back != info {
		t.Fatalf("read back: %+v, %v; want %+v", back, err, info)
	}

	numbers, err := json.Marshal(info.Backup.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	old := fmt.Sprintf(`{"Heap":"h","Index":7,"Objects":1,"Roots":2,"Bytes":3,"SHA256":%s}`, numbers)
	var b oss.BackupInfo
	if err := json.Unmarshal([]byte(old), &b); err != nil || b != info.Backup {
		t.Fatalf("an older node's answer %s read as %+v, %v", old, b, err)
	}

	for _, bad := range []string{`"abc"`, `"` + strings.Repeat("zz", 32) + `"`, `"` + strings.Repeat("ab", 31) + `"`} {
		if err := json.Unmarshal([]byte(`{"SHA256":`+bad+`}`), &b); err == nil || !strings.Contains(err.Error(), "hexadecimal") {
			t.Errorf("digest %s: %v; want an error saying it is not hex", bad, err)
		}
	}
}
