package main

import (
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// rawUnprintable reports whether s holds a rune that does not show as
// itself (hidden: C0, DEL, C1, bidirectional formatting, zero-width) as
// it is.
func rawUnprintable(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && r != '\t' && hidden(r) })
}

// A heap made before C1 controls and bidirectional formatting
// characters were refused in new names still opens and is listed; "ossd
// heaps", "ossd status" and "ossd acl" printed its name as it was, so
// U+009B began an escape sequence and U+202E showed the rest of the line
// reversed. Such a name is printed as a shell word, its runes' bytes
// escaped ($'...', nameSaid); other names as before.
func TestListsPrintUnprintableHeapNamesEscaped(t *testing.T) {
	const bidi, c1 = "old\u202eevil", "c1\u009b2J"
	hs := []oss.HeapStatus{
		{Name: bidi, Replicas: 3, Voters: []string{"n1", "gone"}, Lost: map[string]string{"n1": "lost"},
			Stuck: map[string]string{"n2": "full"}, LogFailed: []string{"n3"},
			Short: &oss.VoterShortfall{Voters: 2, Live: 1, Wants: 3, Servers: 1, Down: []string{"gone"}, Why: oss.QuorumLost}},
		{Name: c1, Replicas: 1, Voters: []string{"n1"}, Learners: []string{"away"},
			Short: &oss.VoterShortfall{Voters: 1, Live: 1, Wants: 3, Servers: 1, Why: oss.ShortOfServers}},
		{Name: "plain name", Replicas: 1, Voters: []string{"n1"}},
	}
	var b strings.Builder
	if err := printHeaps(&b, hs); err != nil {
		t.Fatal(err)
	}
	st := &oss.ClusterStatus{Node: "n1", Members: []oss.Member{{Name: "n1", Role: "server"}}, Heaps: hs}
	printStatus(&b, st)
	out := b.String()
	if rawUnprintable(out) {
		t.Errorf("the heap list and status print a name's runes raw:\n%q", out)
	}
	for _, want := range []string{`$'old\xe2\x80\xaeevil'`, `$'c1\xc2\x9b2J'`, "plain name  "} {
		if n := strings.Count(out, want); n < 2 {
			t.Errorf("the heap list and status print %s %d times; want it in both:\n%s", want, n, out)
		}
	}
	for _, line := range []string{"lost: the replica of " + `$'old\xe2\x80\xaeevil'`, "stuck: the replica of " + `$'old\xe2\x80\xaeevil'`,
		"log failed: the replica of " + `$'old\xe2\x80\xaeevil'`, `down: gone, a voter of $'old\xe2\x80\xaeevil'`,
		`not live: away, a learner of $'c1\xc2\x9b2J'`, `short: heap $'old\xe2\x80\xaeevil' has`, `short: heap $'c1\xc2\x9b2J' has`} {
		if !strings.Contains(out, line) {
			t.Errorf("the status lacks %q:\n%s", line, out)
		}
	}
	if hs[0].Name != bidi {
		t.Errorf("printing the status changed the heap's name to %q", hs[0].Name)
	}
}

// A grant may name a heap made before such names were refused: "acl
// grant" and "acl list" print its name escaped.
func TestACLPrintsUnprintableHeapNamesEscaped(t *testing.T) {
	_, flags := insecureAdmin(t)
	for heap, want := range map[string]string{"old\u202eevil": `$'old\xe2\x80\xaeevil'`, "c1\u009b2J": `$'c1\xc2\x9b2J'`} {
		var out, notes strings.Builder
		if err := aclWith(&out, &notes, append([]string{"grant"}, append(flags, "--to", "bob", "--heap", heap, "--perm", "read")...)); err != nil {
			t.Fatalf("grant on %q: %v", heap, err)
		}
		if err := aclWith(&out, &notes, append([]string{"list"}, flags...)); err != nil {
			t.Fatal(err)
		}
		if rawUnprintable(out.String()) || rawUnprintable(notes.String()) {
			t.Errorf("acl grant and list print a name's runes raw:\n%q\n%q", out.String(), notes.String())
		}
		if strings.Count(out.String(), want) < 2 {
			t.Errorf("acl grant and list printed\n%s\nwant %s in both", out.String(), want)
		}
	}
}
