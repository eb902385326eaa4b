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

// noGroupZero refuses "heaps drop NAME --group 0" before anything is
// sent: no heap has group 0, and the drop, which takes a group of 0 for
// no --group at all, dropped the heap of that name whatever its group,
// the drop by name that --group is there to avoid.
func noGroupZero(fs *flag.FlagSet, group uint64) error {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "group" })
	if !set || group != 0 {
		return nil
	}
	return fmt.Errorf("heaps drop: --group 0 is no heap's group (\"ossd heaps\" lists each heap's GROUP): nothing was done")
}
