// Command ossd runs an OSS node and inspects a cluster from the shell.
//
//	ossd ca init     --dir certs                      create a cluster CA
//	ossd cert issue  --dir certs --name n1 [--force]  issue a node certificate
//	ossd cert issue  --dir certs --name admin --role admin   the operator's, for the CLI
//	ossd cert revoke n1 [--serial HEX|--cert FILE]    revoke certificates of n1
//	ossd cert revocations                             list revoked certificates
//	ossd run         --name n1 --listen 127.0.0.1:7401 --certs certs [--join addr]
//	ossd status      [--http 127.0.0.1:7480]          members and heaps
//	ossd heaps       [create NAME [--replicas N]|drop NAME [--group G]|set-replicas NAME N]  the heap directory
//	ossd heaps       backup NAME --out FILE | restore NAME --in FILE  back a heap up, restore it
//	ossd get HEAP ROOT|ID                             read an object
//	ossd put HEAP ROOT JSON                           write a root's object
//	ossd hot HEAP                                     the objects transactions conflict on
//	ossd acl grant|revoke --to NAME --heap H --perm P  grants to client certificates
//	ossd acl list                                     the grants
//	ossd debug bundle [--http a,b,c] [--out FILE]     status, metrics, logs, profiles of every node
//
// The CLI speaks HTTPS to a node's admin interface (--http) with the
// certificate --certs DIR --user NAME names (default certs/admin.crt).
//
// Every flag can also be set by an environment variable: OSS_ and the
// flag's name in capitals, dashes as underscores (OSS_JOIN, OSS_DATA_DIR).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

const usage = `ossd runs an OSS node and inspects a cluster.

Usage:
  ossd ca init     --dir DIR                          create a cluster CA (ca.crt, ca.key)
  ossd cert issue  --dir DIR --name NAME [--role R] [--validity D] [--force]
                                                      issue NAME.crt and NAME.key from DIR's CA
                                                      (R: server, client, or admin for the CLI's
                                                      user); --force replaces existing ones
  ossd cert revoke NAME [--serial HEX | --cert FILE]  revoke one certificate of NAME, or (no
                                                      --serial) every one issued until now;
                                                      every node refuses it within seconds;
                                                      NAME must be in the CA's register
                                                      (--ca-dir DIR: DIR/issued)
  ossd cert revocations                               list the revoked certificates
  ossd run         [flags]                            run a node until SIGINT or SIGTERM;
                                                      SIGHUP reloads ca.crt, its certificate and key
  ossd status      [--http ADDR,...] [--json]         members, heaps, leaders, voters, learners
  ossd heaps       [--json | create NAME [--replicas N] | drop NAME [--group G] | set-replicas NAME N]
                                                      list, create or drop heaps, or change
                                                      the voters one keeps
  ossd heaps       backup NAME --out FILE|- [--fresh] | restore NAME --in FILE|- [--replicas N]
                                                      write a heap's consistent backup (FILE
                                                      via FILE.tmpNNN, synced, renamed); create a
                                                      new heap from one, checked first, kept
                                                      whole or not at all
  ossd get         HEAP ROOT|OBJECT-ID [--fresh]      print an object as JSON
  ossd put         HEAP ROOT JSON|-                   set the object a root names ("-": the
                                                      JSON from stdin); creates HEAP if it
                                                      did not exist when put began
  ossd hot         HEAP [--json]                      the heap's hottest objects: what
                                                      transactions conflict on, lately
  ossd acl         grant|revoke --to NAME --heap HEAP --perm read|write|admin | list [--json]
                                                      grant client certificates access to heaps
  ossd debug bundle [--http ADDR,ADDR,...] [--out FILE] [--cpu 5s]
                                                      collect status, metrics, recent logs and
                                                      profiles of each node into a tar.gz for a
                                                      bug report (list every node's admin address)

Certificates: a node refuses to start on an expired certificate, warns as
its own nears expiry, and ends each connection when the peer's certificate
(or the CA's) expires. To rotate one: "cert issue --force" a new one, send
the node SIGHUP (or restart it), then "cert revoke NAME --serial OLD".
To rotate the CA, on every node, SIGHUP after each step: ca.crt holding
the old CA and the new; certificates of the new; ca.crt of the new alone.

status, heaps, get, put, hot, acl, cert revoke, cert revocations and
debug bundle speak HTTPS to a node's admin interface (--http,
default 127.0.0.1:7480; several, comma-separated: the first that
takes the request, past nodes that do not answer or say they are
starting, damaged, closing or too busy, having done nothing of it) as
the user --user (default admin) of the certificates in
--certs (default certs): issue its certificate with
"ossd cert issue --dir certs --name admin --role admin".

Run "ossd COMMAND -h" for a command's flags. Every flag can be set by an
environment variable instead: OSS_ and its name in capitals (OSS_JOIN).
`

func main() {
	if err := dispatch(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "ossd:", err)
		os.Exit(1)
	}
}

func dispatch(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "ca":
		if len(rest) > 0 && isHelp(rest[0]) {
			return subcommandHelp(cmd) // synopsis.go
		}
		if len(rest) == 0 || rest[0] != "init" {
			return errors.New(`"ca" takes the subcommand "init"`)
		}
		return caInit(rest[1:])
	case "cert":
		return certCommand(rest)
	case "run":
		return run(rest)
	case "status":
		return status(rest)
	case "heaps":
		return heaps(rest)
	case "get":
		return get(rest)
	case "put":
		return put(rest)
	case "acl":
		return acl(rest)
	case "hot":
		return hot(rest) // hot.go
	case "debug":
		return debugCommand(rest) // debug.go
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// parse parses a command's flags, taking defaults from OSS_* environment
// variables; it returns the positional arguments, wherever they appear.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := envName(f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %w", env, v, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	var pos []string
	for {
		head, num, rest := cutNegative(fs, args) // negnum.go
		for {
			if err := fs.Parse(head); err != nil {
				return nil, withFlagHint(fs, err) // flagtypo.go
			}
			if endedByDashes(fs, head) {
				// Every word after "--" is an argument: parsed again,
				// all but the first were taken for flags.
				return append(pos, fs.Args()...), nil
			}
			if fs.NArg() == 0 {
				break
			}
			pos = append(pos, fs.Arg(0))
			head = fs.Args()[1:]
		}
		if num == "" {
			return pos, nil
		}
		pos, args = append(pos, num), rest
	}
}

// endedByDashes reports whether fs's parse of args stopped at a "--"
// that ends the flags (not one that is the value of the flag before it).
func endedByDashes(fs *flag.FlagSet, args []string) bool {
	used := len(args) - fs.NArg()
	return used > 0 && args[used-1] == "--" && (used < 2 || !takesValue(fs, args[used-2]))
}

// parseFlagsOnly parses a command that takes no positional arguments as
// parse does, and refuses any: a word left over is a mistake (an address
// after a space instead of a comma, a flag without its dash), not
// something to ignore.
func parseFlagsOnly(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%s: unexpected argument %q (it takes flags only; see --help)", fs.Name(), pos[0])
	}
	return nil
}
