package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/objectsharing/oss/oss"
)

// noteUnissued tells, after "acl grant" to a name that the register of
// the CLI's --certs directory (DIR/issued, beside the CA's key, as "ossd
// cert issue" keeps it) does not list, that no certificate of that name
// was issued there: a grant to a mistyped name ("--to alic") succeeded
// and said nothing, and the client it was meant for was then refused. A
// grant may rightly come before its certificate, or name one of another
// CA's directory, so this is a note, not a refusal; a directory without
// a register, or with a partial one, leaves it out.
func noteUnissued(notes io.Writer, dir string, g oss.Grant) {
	reg, partial, err := readRegister(dir) // issued.go
	if err != nil || partial {
		return
	}
	var names []string
	for _, c := range reg {
		if c.Name == g.Who {
			return
		}
		if !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
	}
	slices.Sort(names)
	known := "it has issued none"
	if len(names) > 0 {
		known = "it issued certificates to " + strings.Join(names, ", ")
	}
	fmt.Fprintf(notes, "ossd: acl grant: the CA of %s/%s issued no certificate to %q (%s): the grant applies to a certificate of that name issued later, or by another CA (\"%s\" removes the grant)\n",
		dir, issuedFile, g.Who, known, "ossd acl revoke --to "+shellWord(g.Who)+" --heap "+shellWord(g.Heap)+" --perm "+string(g.Perm))
}
