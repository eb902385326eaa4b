package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// Every name the CLI prints inside a suggested command comes back exact
// from bash, whatever the locale: a C1 control character was escaped as
// \x of its code point, which bash reads as one byte (U+0085 became the
// byte 0x85), and \u escapes depend on the locale. A name that starts
// with = is quoted (zsh expands it).
func TestShellWordsComeBackExactFromBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	names := []string{"sp ace", "it's", "$HOME", "`id`", `a"b`, "é", "日本", "a\u0085b", "\u009b31m", "\u202eabc",
		"a\x1b[31m", "a\nb", "-x", "=ls", "~", "~root", "*", "!x", "a!b\x01", `a\b`, "", "#x", "a;b", "{a,b}",
		"a\u2028b", "x=y", "%1", "a\x7f", "\u200b", "\u0085\u00e9"}
	for _, locale := range []string{"C", "C.UTF-8"} {
		for _, n := range names {
			w := shellWord(n)
			cmd := exec.Command(bash, "-c", "set -H; printf %s "+w)
			cmd.Env = []string{"LC_ALL=" + locale, "PATH=/usr/bin:/bin"}
			out, err := cmd.Output()
			if err != nil || !bytes.Equal(out, []byte(n)) {
				t.Errorf("LC_ALL=%s: name %q as %s: bash printed %q (%v)", locale, n, w, out, err)
			}
			if strings.HasPrefix(n, "=") && w == n {
				t.Errorf("name %q printed bare", n)
			}
		}
	}
}

// A suggested command whose name starts with - puts its flags first and
// ends them with "--": "ossd get h -r --fresh" took -r for a flag.
func TestSuggestedCommandsEndFlagsBeforeADashName(t *testing.T) {
	for _, c := range []struct {
		verb, flags, want string
		args              []string
	}{
		{"ossd get", "--fresh", "ossd get h r --fresh", []string{"h", "r"}},
		{"ossd get", "--fresh", "ossd get --fresh -- h -r", []string{"h", "-r"}},
		{"ossd put", "", "ossd put -- h -r JSON", []string{"h", "-r", "JSON"}},
		{"ossd heaps create", "--replicas N", "ossd heaps create --replicas N -- '-sp ace'", []string{"-sp ace"}},
		{"ossd heaps drop", "", "ossd heaps drop h", []string{"h"}},
	} {
		if got := suggest(c.verb, c.flags, c.args...); got != c.want {
			t.Errorf("suggest(%q, %q, %q) = %q; want %q", c.verb, c.flags, c.args, got, c.want)
		}
	}

	_, flags := insecureAdmin(t)
	var out bytes.Buffer
	if err := putTo(strings.NewReader(""), &out, &out, append([]string{"h", "r", "1"}, flags...)); err != nil {
		t.Fatal(err)
	}
	err := getTo(&out, append(append([]string{}, flags...), "--", "h", "-r"))
	if err == nil || !strings.Contains(err.Error(), `"ossd put -- h -r JSON"`) {
		t.Fatalf("get of a missing root named -r said %v; want the remedy \"ossd put -- h -r JSON\"", err)
	}
}
