package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/objectsharing/oss/oss"
)

const aclUsage = `ossd acl grant  --to NAME --heap HEAP --perm read|write|admin
ossd acl revoke --to NAME --heap HEAP --perm read|write|admin
ossd acl list [--json]

Grants give a client certificate's NAME a permission on a heap, or on
every heap whose name starts with a prefix ("game-*"; "*" is every heap):
read opens it, write commits to it, admin creates and drops it (each
implies the ones before). Server nodes and operators need no grant.
Revoke removes a grant exactly as it was given.`

// acl runs "ossd acl grant|revoke|list".
func acl(args []string) error { return aclTo(os.Stdout, args) }

func aclTo(w io.Writer, args []string) error { return aclWith(w, os.Stderr, args) }

// aclWith runs "ossd acl", printing to w and its notes to notes.
func aclWith(w, notes io.Writer, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, aclUsage)
		return errors.New(`"acl" takes the subcommand "grant", "revoke" or "list"`)
	}
	sub := args[0]
	switch {
	case isHelp(sub):
		fmt.Fprintln(os.Stderr, aclUsage) // synopsis.go
		return flag.ErrHelp
	case sub != "grant" && sub != "revoke" && sub != "list":
		return fmt.Errorf(`acl: unknown subcommand %q: want "grant", "revoke" or "list"`, sub)
	}
	fs, dial := clientFlags("ossd acl " + sub)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), aclUsage); fs.PrintDefaults() }
	to := fs.String("to", "", "the certificate name granted to")
	heap := fs.String("heap", "", `a heap name, or a prefix ending in "*" ("*": every heap)`)
	perm := fs.String("perm", "", "read, write (implies read) or admin (implies write)")
	asJSON := fs.Bool("json", false, "list: print the grants as JSON")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("acl %s: unexpected argument %q", sub, pos[0])
	}
	ctx, c, done, err := connect(dial)
	if err != nil {
		return err
	}
	defer done()
	g := oss.Grant{Who: *to, Heap: *heap, Perm: oss.Permission(*perm)}
	switch sub {
	case "list":
		gs, err := c.Grants(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSONTo(w, gs)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "NAME\tHEAP\tPERMISSION\n")
		for _, g := range gs {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", nameSaid(g.Who), nameSaid(g.Heap), g.Perm) // shellword.go
		}
		return tw.Flush()
	case "grant", "revoke":
		if g.Who == "" || g.Heap == "" || g.Perm == "" {
			return fmt.Errorf("acl %s: want --to NAME, --heap HEAP and --perm read|write|admin", sub)
		}
		if sub == "grant" {
			err = c.Grant(ctx, g)
		} else {
			err = c.RevokeGrant(ctx, g)
		}
		if err != nil {
			return outcomeUnknown(err, "ossd acl list") // unknownmsg.go
		}
		fmt.Fprintf(w, "%s %s %s on %s\n", map[string]string{"grant": "granted", "revoke": "revoked"}[sub], nameSaid(g.Who), g.Perm, nameSaid(g.Heap))
		if sub == "grant" {
			noteNoHeap(c, notes, g)                                   // aclnote.go
			noteUnissued(notes, fs.Lookup("certs").Value.String(), g) // aclwho.go
		}
		return nil
	}
	fmt.Fprintln(os.Stderr, aclUsage)
	return fmt.Errorf(`acl: unknown subcommand %q: want "grant", "revoke" or "list"`, sub)
}
