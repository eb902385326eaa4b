package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// remedyCommand is a command the CLI tells the user to run, as printed:
// from "ossd " to the quote, parenthesis, semicolon or line end that
// closes it.
var remedyCommand = regexp.MustCompile(`ossd [^"();\n]*`)

// remedyFlags is the flag set of the command words names ("ossd heaps
// create ..."), as the CLI defines it, and the words its parse takes.
func remedyFlags(t *testing.T, words []string) (*flag.FlagSet, []string) {
	t.Helper()
	fs, _ := clientFlags(strings.Join(words[:2], " "))
	fs.SetOutput(io.Discard)
	switch words[1] {
	case "heaps":
		fs.String("replicas", "", "") // a placeholder: "--replicas N"
		fs.Bool("json", false, "")
	case "get":
		fs.Bool("fresh", false, "")
	case "put":
		fs.String("http-max-body", "", "")
	case "hot":
		fs.Bool("json", false, "")
	case "acl":
		fs.String("to", "", "")
		fs.String("heap", "", "")
		fs.String("perm", "", "")
		fs.Bool("json", false, "")
		return fs, words[3:]
	default:
		t.Fatalf("a remedy of a command this test does not know: %q", words)
	}
	return fs, words[2:]
}

// checkRemedies parses, with the CLI's own flag parsing, every command
// msg tells the user to run, and reports one that does not parse or
// that names heap (and root, if not "") other than as its heap (and
// root) argument: a name that starts with "-" must come after "--" (or
// be a flag's value), or the command takes it for a flag. It returns how
// many commands named the heap.
func checkRemedies(t *testing.T, what, msg, heap, root string) int {
	t.Helper()
	named := 0
	for _, cmd := range remedyCommand.FindAllString(msg, -1) {
		words := strings.Fields(strings.TrimRight(cmd, " .,:"))
		if len(words) < 2 || !strings.Contains(cmd, heap) {
			continue
		}
		named++
		fs, args := remedyFlags(t, words)
		pos, err := parse(fs, args)
		if err != nil {
			t.Errorf("%s: the remedy %q does not parse: %v\n%s", what, cmd, err, msg)
			continue
		}
		got := pos
		switch words[1] {
		case "heaps":
			got = pos[1:] // create, drop or set-replicas
		case "acl":
			got = []string{fs.Lookup("heap").Value.String()}
		}
		want := []string{heap}
		if root != "" && strings.Contains(cmd, root) {
			want = append(want, root)
		}
		if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Errorf("%s: the remedy %q names %q, want %q first\n%s", what, cmd, got, want, msg)
		}
	}
	return named
}

// The commands the CLI suggests end the flags with "--" before a name
// that starts with "-"; some remedies still printed one where a user
// would paste it as a flag: the node's "no such heap" answer, which the
// CLI prints after its own words, said "ossd heaps create -x". Every
// remedy the CLI can print for a heap named "-x" and a root named
// "--all" is now a command whose parse names that heap and root.
func TestRemediesNameDashHeapsAndRootsAsArguments(t *testing.T) {
	_, flags := insecureAdmin(t)
	const heap, root = "-x", "--all"
	var out, notes strings.Builder
	cli := func(run func([]string) error, args ...string) string {
		out.Reset()
		notes.Reset()
		err := run(append(append(slices.Clone(flags), "--"), args...))
		return fmt.Sprintf("%v\n%s%s", err, out.String(), notes.String())
	}
	get := func(a []string) error { return getTo(&out, a) }
	heaps := func(a []string) error { return heapsTo(&out, a) }
	put := func(a []string) error { return putTo(strings.NewReader(""), &out, &notes, a) }
	acl := func(a []string) error { return aclWith(&out, &notes, a) }
	msgs := map[string]string{
		"get of a missing heap":          cli(get, heap, root),
		"hot of a missing heap":          cli(hot, heap), // prints nothing to stdout: there is no heap,
		"set-replicas of a missing heap": cli(heaps, "set-replicas", heap, "3"),
		"drop of a missing heap":         cli(heaps, "drop", heap),
	}
	out.Reset()
	notes.Reset()
	err := acl(append([]string{"grant"}, append(slices.Clone(flags), "--to", "bob", "--heap", heap, "--perm", "read")...))
	msgs["acl grant on a missing heap"] = fmt.Sprintf("%v\n%s%s", err, out.String(), notes.String())
	msgs["put that creates the heap"] = cli(put, heap, "other", "1")
	msgs["get of a missing root"] = cli(get, heap, root)
	msgs["a write's unknown outcome"] = outcomeUnknown(fmt.Errorf("%w", oss.ErrCommitUnknown), suggest("ossd get", "--fresh", heap, root)).Error()
	msgs["a quorum's unknown outcome"] = readBackFirst(heap)
	noteCreatedThenRefused(&notes, heap, fmt.Errorf("the node's disk: %w", oss.ErrDisk))
	msgs["a heap created, its root refused"] = notes.String()
	msgs["a permission refused"] = (&oss.PermissionError{Who: "bob", Role: "client", Heap: heap, Perm: oss.PermWrite}).Error()
	for what, msg := range msgs {
		if strings.Contains(msg, "flag provided but not defined") {
			t.Errorf("%s: the command took a name for a flag: %s", what, msg)
		}
		n := checkRemedies(t, what, msg, heap, root)
		if n == 0 && what != "drop of a missing heap" {
			t.Errorf("%s: no remedy named heap %q:\n%s", what, heap, msg)
		}
	}
	if err := errors.New(msgs["get of a missing heap"]); !strings.Contains(err.Error(), "from the shell: ossd heaps create -- -x") {
		t.Errorf("get of a missing heap: %v\nwant the node's own remedy to end the flags before -x", err)
	}
}
