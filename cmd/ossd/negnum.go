package main

import (
	"flag"
	"regexp"
	"strings"
)

// negativeNumber is an argument that is a negative JSON number, never a
// flag: no flag of ossd's begins with a digit.
var negativeNumber = regexp.MustCompile(`^-[0-9]`)

// cutNegative cuts args at the first negative number that is an argument
// of its own (not the value of the flag before it, as in --replicas -1):
// args before it, the number, and args after it; num is empty if there
// is none. The flag package takes "-5" for a flag, and "ossd put h r
// -5" failed with "flag provided but not defined: -5", though -5 is
// the JSON value put takes.
func cutNegative(fs *flag.FlagSet, args []string) (head []string, num string, rest []string) {
	for i, a := range args {
		if a == "--" {
			break // what follows is positional already
		}
		if negativeNumber.MatchString(a) && (i == 0 || !takesValue(fs, args[i-1])) {
			return args[:i], a, args[i+1:]
		}
	}
	return args, "", nil
}

// takesValue reports whether arg is a flag of fs that takes the next
// argument as its value: not a boolean, not written --name=value.
func takesValue(fs *flag.FlagSet, arg string) bool {
	name, ok := strings.CutPrefix(arg, "-")
	if !ok || strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(strings.TrimPrefix(name, "-"))
	if f == nil {
		return false
	}
	b, isBool := f.Value.(interface{ IsBoolFlag() bool })
	return !isBool || !b.IsBoolFlag()
}
