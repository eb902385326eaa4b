package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// "ossd cert issue" on a register whose last line was cut short (a crash
// or a full disk during an earlier issue) appended its line to the torn
// one: the two records became one line that "ossd cert revoke" refused
// to read, so no certificate of that CA, the new one included, could be
// revoked until the file was mended by hand. An issue now refuses a
// register it cannot read, naming the line, before it writes anything;
// one whose last line is whole but lacks its newline gets one first.
func TestCertIssueOnATornRegister(t *testing.T) {
	dir := caDir(t)
	for _, name := range []string{"n1", "n2"} {
		if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", name}); err != nil {
			t.Fatal(err)
		}
	}
	reg := filepath.Join(dir, issuedFile)
	whole, err := os.ReadFile(reg)
	if err != nil {
		t.Fatal(err)
	}

	// A last line without its newline, whole otherwise.
	if err := os.WriteFile(reg, whole[:len(whole)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n3"}); err != nil {
		t.Fatalf("issue on a register whose last line has no newline: %v", err)
	}
	if got, err := checkIssued(dir, "n3", nil); err != nil || len(got) != 1 {
		t.Fatalf("n3 in the register after its issue: %v, %v; want it listed", got, err)
	}
	if got, err := checkIssued(dir, "n2", nil); err != nil || len(got) != 1 {
		t.Fatalf("n2 in the register after n3's issue: %v, %v; want it listed", got, err)
	}

	// A last line cut short.
	if err := os.WriteFile(reg, whole[:len(whole)-20], 0o644); err != nil {
		t.Fatal(err)
	}
	err = dispatch([]string{"cert", "issue", "--dir", dir, "--name", "n4"})
	if err == nil || !strings.Contains(err.Error(), reg+":2") {
		t.Fatalf("issue on a register whose last line is cut short: %v; want a refusal naming %s:2", err, reg)
	}
	if _, err := os.Stat(filepath.Join(dir, "n4.crt")); err == nil {
		t.Fatal("a refused issue wrote its certificate")
	}
	if b, _ := os.ReadFile(reg); string(b) != string(whole[:len(whole)-20]) {
		t.Fatalf("a refused issue changed the register:\n%s", b)
	}
}
