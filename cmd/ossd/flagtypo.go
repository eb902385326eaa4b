package main

import (
	"flag"
	"fmt"
	"strings"
)

// withFlagHint adds to an unknown flag's error the flag of fs it is a
// slip away from: "--listne" names --listen.
func withFlagHint(fs *flag.FlagSet, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: ")
	if !ok {
		return err
	}
	name = strings.TrimLeft(name, "-")
	best, dist := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(name, f.Name); d < dist || d == dist && f.Name < best {
			best, dist = f.Name, d
		}
	})
	if best == "" {
		return fmt.Errorf("%w (\"ossd %s -h\" lists its flags)", err, strings.TrimPrefix(fs.Name(), "ossd "))
	}
	return fmt.Errorf("%w: did you mean --%s?", err, best)
}
