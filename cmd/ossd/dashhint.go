package main

import (
	"flag"
	"fmt"
	"strings"
)

// flagAfterDashes returns a hint for a command's error about its
// arguments when one of pos, the arguments parse gave, is a flag of fs:
// a flag given after "--" (the CLI's suggested "ossd heaps create -- -x"
// with "--http ADDR" added at its end) is an argument, and the command
// said only that it wanted other arguments. Empty if none is.
func flagAfterDashes(fs *flag.FlagSet, pos []string) string {
	for _, p := range pos {
		name, ok := strings.CutPrefix(p, "-")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(strings.TrimPrefix(name, "-"), "=")
		if fs.Lookup(name) != nil {
			return fmt.Sprintf(` (%q came after "--", which makes every word after it an argument: give the flags before "--")`, p)
		}
	}
	return ""
}
