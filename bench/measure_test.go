package main

import (
	"bytes"
	"os"
	"testing"
)

// TestMeasureCopy checks that the OSS worker's copy of measure.go (it is
// a module of its own) is the same as this one, but for the comment that
// says which is the copy.
func TestMeasureCopy(t *testing.T) {
	strip := func(name string) []byte {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(b, []byte("\nimport ("))
		if i < 0 {
			t.Fatalf("%s: no import block", name)
		}
		return b[i:]
	}
	if !bytes.Equal(strip("measure.go"), strip("osswork/measure.go")) {
		t.Error("osswork/measure.go differs from measure.go: copy it over (keeping its header comment)")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 100_000: "100,000", 1_000_000: "1,000,000", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
