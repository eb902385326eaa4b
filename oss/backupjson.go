package oss

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// backupInfoFields is BackupInfo without its JSON methods.
type backupInfoFields BackupInfo

// MarshalJSON writes the digest as 64 hexadecimal digits, as sha256sum
// prints it, not as 32 numbers; the other fields as they are.
func (b BackupInfo) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		backupInfoFields
		SHA256 string
	}{backupInfoFields(b), hex.EncodeToString(b.SHA256[:])})
}

// UnmarshalJSON reads what MarshalJSON writes, and the digest as 32
// numbers too, as nodes before 2026-12-08 answered.
func (b *BackupInfo) UnmarshalJSON(p []byte) error {
	var v struct {
		backupInfoFields
		SHA256 json.RawMessage
	}
	if err := json.Unmarshal(p, &v); err != nil {
		return err
	}
	*b = BackupInfo(v.backupInfoFields)
	if len(v.SHA256) == 0 || string(v.SHA256) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(v.SHA256, &s) != nil {
		return json.Unmarshal(v.SHA256, &b.SHA256)
	}
	d, err := hex.DecodeString(s)
	if err != nil || len(d) != len(b.SHA256) {
		return fmt.Errorf("oss: backup info: SHA256 %q is not %d hexadecimal digits", s, 2*len(b.SHA256))
	}
	copy(b.SHA256[:], d)
	return nil
}
