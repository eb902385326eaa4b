package oss

import (
	"encoding/hex"
	"encoding/json"
)

// backupInfoFields is BackupInfo without its JSON method.
type backupInfoFields BackupInfo

// MarshalJSON writes the fields as they are, the digest as 32 numbers as
// encoding/json does (what every client reads), and beside it SHA256Hex,
// the digest in 64 hexadecimal digits as sha256sum prints it, which a
// person can compare. Decoding needs no method: SHA256Hex is ignored.
func (b BackupInfo) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		backupInfoFields
		SHA256Hex string
	}{backupInfoFields(b), hex.EncodeToString(b.SHA256[:])})
}
