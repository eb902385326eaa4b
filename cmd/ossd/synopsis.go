package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// synopses are what "ossd COMMAND --help" says before the flags: the
// command's arguments, which flag's own listing cannot show. Before,
// "ossd get --help" and "ossd put --help" listed the flags alone, and a
// user learnt that put takes HEAP, ROOT and a JSON value only from the
// error of a put without them.
var synopses = map[string]string{
	"ossd status": `Usage: ossd status [--http ADDR,...] [--json]

Prints the cluster as the node sees it: members, heaps, each heap's
leader, voters, learners and the index every replica applied.`,
	"ossd run": `Usage: ossd run --name NAME --certs DIR [--listen HOST:PORT] [--http HOST:PORT] [--data-dir DIR] [--join ADDR,...]

Runs a node until SIGINT or SIGTERM, which make it hand its replicas over
and leave (a second one closes it at once, exit status 0); SIGHUP reloads ca.crt, its
certificate and key. Without --join, on an empty data directory, it
bootstraps a new cluster; with --join it joins through any member.`,
	"ossd heaps": `Usage: ossd heaps [--json]
       ossd heaps create NAME [--replicas N]
       ossd heaps drop NAME [--group G]
       ossd heaps set-replicas NAME N [--json]
       ossd heaps backup NAME --out FILE|- [--fresh]
       ossd heaps restore NAME --in FILE|- [--replicas N]

Lists the cluster's heaps, or creates or drops one, or changes the
number of voters one keeps, from 1 to 9 (admin). Backup writes one
consistent snapshot of a heap (read) to FILE (via a FILE.tmpNNN of its
own, synced and renamed) or stdout; restore creates heap NAME, which must not exist,
from a backup (admin), checking FILE whole before sending it, and keeps
nothing of a backup that fails. Drop with --group G drops the heap only
if it is of group G (the list's GROUP), not another heap of the name
created since: the drop a failed restore's message gives. The list
is the node's own view: with --json, ReplicaApplied holds its replica's
applied index alone and Unreported names the replicas on other nodes
("ossd status" asks every member).`,
	"ossd get": `Usage: ossd get HEAP ROOT|OBJECT-ID [--fresh]

Prints the object a root names (or the object of that ID) as JSON: its
ID, version, value and the index it was read at. An argument that reads
as an ID names that object, or, if the heap holds none, the root of
that name.`,
	"ossd put": `Usage: ossd put HEAP ROOT JSON
       ossd put HEAP ROOT -        (the JSON from stdin)

Sets the object ROOT names to the JSON value, creating the heap if it is
missing (admin). A value from stdin whose body, its JSON compacted, is
longer than --http-max-body (12 MiB, the node's default; give put the
node's own if it has another) is refused unsent, read no further. A put that fails with "its outcome is unknown" may have
been carried out: read it back (ossd get HEAP ROOT --fresh) before trying
again.`,
	"ossd cert revoke": `Usage: ossd cert revoke NAME [--serial HEX | --cert FILE] [--ca-dir DIR | --unlisted]

Revokes one certificate of NAME (--serial, or the one in --cert), or,
without either, every certificate of NAME issued until now. Every node
refuses a revoked certificate within seconds. NAME and the serial must
be in the register of the CA that issued them, DIR/issued ("cert issue"
appends to it; DIR is --certs unless --ca-dir), so a name the CA never
issued is refused with the names it did, and nothing is recorded. A
certificate revoked already is reported so, and nothing is recorded; so
is NAME when every certificate of it the register lists is.`,
	"ossd cert revocations": `Usage: ossd cert revocations [--json]

Lists the revoked certificates.`,
	"ossd ca init": `Usage: ossd ca init --dir DIR

Creates the cluster's CA: DIR/ca.crt and DIR/ca.key (keep ca.key
offline).`,
	"ossd cert issue": `Usage: ossd cert issue --dir DIR --name NAME [--role server|client|admin] [--validity D] [--force]

Issues DIR/NAME.crt and DIR/NAME.key from the CA in DIR.`,
}

// withSynopsis makes fs's usage print the command's synopsis, if it has
// one, before its flags.
func withSynopsis(fs *flag.FlagSet) {
	s, ok := synopses[fs.Name()]
	if !ok {
		return
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\n", s)
		fs.PrintDefaults()
	}
}

// isHelp reports whether arg asks for help rather than naming a
// subcommand.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// subcommandHelp answers "ossd ca|cert|debug|acl --help": the lines of
// the usage that name cmd's subcommands, and flag.ErrHelp (exit status 0).
// It said "takes the subcommand ..." and exited 1.
func subcommandHelp(cmd string) error {
	var lines []string
	in := false
	for _, l := range strings.Split(usage, "\n") {
		switch {
		case strings.HasPrefix(l, "  ossd "+cmd+" "):
			in = true
		case strings.HasPrefix(l, "  ossd "), l == "":
			in = false
		}
		if in {
			lines = append(lines, l)
		}
	}
	fmt.Fprintf(os.Stderr, "Usage:\n%s\n\nRun \"ossd %s SUBCOMMAND -h\" for a subcommand's flags.\n", strings.Join(lines, "\n"), cmd)
	return flag.ErrHelp
}
