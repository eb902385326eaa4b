package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"
)

// heapsOwnFlags are "ossd heaps"'s own flags; heapsFormFlags, which of
// them each form takes (the list is the form "").
var (
	heapsOwnFlags  = []string{"replicas", "json", "out", "in", "fresh", "group"}
	heapsFormFlags = map[string][]string{
		"":             {"json"},
		"create":       {"replicas"},
		"drop":         {"group"},
		"set-replicas": {"json"},
		"backup":       {"out", "fresh"},
		"restore":      {"in", "replicas"},
	}
)

// strayHeapsFlags refuses a flag of "ossd heaps" given to a form that does
// not take it, before anything is sent: "heaps drop X --out F" dropped X
// and "heaps create X --in F" created X empty, the flag ignored, where
// the user meant another form.
func strayHeapsFlags(fs *flag.FlagSet, form string) error {
	var stray []string
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(heapsOwnFlags, f.Name) && !slices.Contains(heapsFormFlags[form], f.Name) {
			stray = append(stray, "--"+f.Name)
		}
	})
	if len(stray) == 0 {
		return nil
	}
	what, takes := "heaps "+form, "no flag of its own"
	if form == "" {
		what = "heaps (the list)"
	}
	if own := heapsFormFlags[form]; len(own) > 0 {
		takes = "only --" + strings.Join(own, ", --")
	}
	return fmt.Errorf("%s does not take %s (it takes %s): nothing was done", what, strings.Join(stray, ", "), takes)
}
