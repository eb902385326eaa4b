package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// "acl grant --to alic" (alice mistyped) was granted and said nothing:
// the client it was meant for was refused. With the register of the
// CLI's --certs directory at hand, a grant to a name it never issued a
// certificate to is made and said on stderr; one to a name it issued is
// said nothing of, and a directory without a register says nothing.
func TestACLGrantToANameNeverIssuedIsSaid(t *testing.T) {
	_, flags := insecureAdmin(t)
	dir := filepath.Join(t.TempDir(), "certs")
	if err := dispatch([]string{"ca", "init", "--dir", dir}); err != nil {
		t.Fatal(err)
	}
	if err := dispatch([]string{"cert", "issue", "--dir", dir, "--name", "alice", "--role", "client"}); err != nil {
		t.Fatal(err)
	}
	grant := func(certs, who string) (string, string) {
		var out, notes strings.Builder
		args := append([]string{"grant"}, flags...)
		if err := aclWith(&out, &notes, append(args, "--certs", certs, "--to", who, "--heap", "h*", "--perm", "read")); err != nil {
			t.Fatalf("grant to %q: %v", who, err)
		}
		return out.String(), notes.String()
	}
	out, notes := grant(dir, "alic")
	if !strings.Contains(out, "granted alic read on h*") {
		t.Errorf("the grant to alic was not made: %q", out)
	}
	for _, want := range []string{`issued no certificate to "alic"`, "it issued certificates to alice", "ossd acl revoke --to alic --heap 'h*' --perm read"} {
		if !strings.Contains(notes, want) {
			t.Errorf("the grant to a name never issued says %q; want %q in it", notes, want)
		}
	}
	if _, notes := grant(dir, "alice"); notes != "" {
		t.Errorf("a grant to a name issued says %q", notes)
	}
	if _, notes := grant(t.TempDir(), "bob"); notes != "" {
		t.Errorf("a grant with no register at hand says %q", notes)
	}
}
