package main

import (
	"flag"
	"strings"
)

// envTypo is an OSS_* variable that names no flag of a command but is a
// slip away from one of its flags' variables: OSS_JION for OSS_JOIN
// would otherwise be ignored without a word, and a node meant to join a
// cluster would bootstrap one of its own.
type envTypo struct {
	name, near string // the variable set, and the flag's variable
}

// envTypos returns the variables of environ (KEY=VALUE) that look like
// misspelled flags of fs. Variables far from every flag are left alone:
// OSS_* variables serve other commands and the tests too.
func envTypos(fs *flag.FlagSet, environ []string) []envTypo {
	flags := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { flags[envName(f.Name)] = true })
	var out []envTypo
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "OSS_") || flags[name] {
			continue
		}
		best, dist := "", 3
		for f := range flags {
			if d := editDistance(name, f); d < dist || d == dist && f < best {
				best, dist = f, d
			}
		}
		if best != "" {
			out = append(out, envTypo{name, best})
		}
	}
	return out
}

// envName is the variable that sets the flag name.
func envName(name string) string {
	return "OSS_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
