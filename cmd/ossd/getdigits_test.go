package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// "ossd get" prints a value as the heap holds it, every digit of its
// integers: what "ossd put" wrote reads back as it was written. The CLI
// decoded the node's answer into an interface, whose numbers are
// float64, and printed 9007199254740993 as 9007199254740992 and
// 18446744073709551615 as 18446744073709552000, though the node sent
// them exactly.
func TestGetPrintsEveryDigit(t *testing.T) {
	_, flags := insecureAdmin(t)
	for _, value := range []string{
		`9007199254740993`,
		`18446744073709551615`,
		`{"a":[9223372036854775807,-9223372036854775807,1.5,"x",null,true]}`,
	} {
		var out strings.Builder
		if err := putFrom(strings.NewReader(""), &out, append([]string{"h", "r", value}, flags...)); err != nil {
			t.Fatalf("put %s: %v", value, err)
		}
		out.Reset()
		if err := getTo(&out, append([]string{"h", "r"}, flags...)); err != nil {
			t.Fatalf("get after put %s: %v", value, err)
		}
		var got struct {
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
			t.Fatalf("get printed %q: %v", out.String(), err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, got.Value); err != nil {
			t.Fatal(err)
		}
		if compact.String() != value {
			t.Errorf("put %s, get printed %s", value, compact.String())
		}
	}
}
