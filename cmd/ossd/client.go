package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// clientFlags are the flags of every command that talks to a node; dial
// makes the client they describe once they are parsed.
func clientFlags(name string) (*flag.FlagSet, func() (*admin.Client, error)) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	withSynopsis(fs) // synopsis.go
	addr := fs.String("http", admin.DefaultAddr, "address of the node's admin interface, or several separated by commas: the first that answers")
	certs := fs.String("certs", "certs", "directory holding ca.crt and the user's NAME.crt and NAME.key")
	user := fs.String("user", "admin", "the user: the name of its certificate (\"ossd cert issue --dir DIR --name NAME --role admin\")")
	insecure := fs.Bool("http-insecure", false, "speak plain HTTP without a certificate, to a node run with --http-insecure")
	dial := func() (*admin.Client, error) {
		if !*insecure {
			warnOpenUserKey(os.Stderr, *certs, *user)
			warnExpiringUserCert(os.Stderr, *certs, *user, time.Now()) // certexpiry.go
		}
		return admin.NewClient(*addr, &admin.ClientOptions{CertDir: *certs, Name: *user, Insecure: *insecure})
	}
	return fs, dial
}

func cmdContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 20*time.Second)
}

// connect dials the node a command talks to and bounds the command's
// calls (cmdContext); done ends both.
func connect(dial func() (*admin.Client, error)) (context.Context, *admin.Client, func(), error) {
	c, err := dial()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := cmdContext()
	return ctx, c, func() { cancel(); c.Close() }, nil
}

func status(args []string) error { return statusTo(os.Stdout, args) }

// statusTo is "ossd status", printing to w.
func statusTo(w io.Writer, args []string) error {
	fs, dial := clientFlags("ossd status")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	ctx, c, done, err := connect(dial)
	if err != nil {
		return err
	}
	defer done()
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSONTo(w, st)
	}
	printStatus(w, &st)
	return nil
}

func printJSON(v any) error { return printJSONTo(os.Stdout, v) }

// printJSONTo prints v as indented JSON, with every rune that does not
// show as itself escaped (jsonShown).
func printJSONTo(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(jsonShown(b.Bytes())) // jsonout.go
	return err
}

func printStatus(w io.Writer, st *oss.ClusterStatus) {
	st = namesSaid(st)
	if st.Damage != "" {
		fmt.Fprintf(w, "DAMAGED: node %s: %s\n\n", st.Node, st.Damage)
	}
	if st.Revoked != "" {
		fmt.Fprintf(w, "REVOKED: node %s: %s\n\n", st.Node, st.Revoked)
	}
	if st.LogFailed != "" {
		fmt.Fprintf(w, "LOG FAILED: node %s commits nothing until restarted: %s\n\n", st.Node, st.LogFailed)
	}
	if st.DiskStalled != "" {
		fmt.Fprintf(w, "DISK STALLED: node %s: %s\n\n", st.Node, st.DiskStalled)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "MEMBER\tADDRESS\tROLE\tLEADS\n")
	for _, m := range st.Members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, m.Addr, m.Role, strings.Join(m.Leads, ","))
	}
	tw.Flush()
	if len(st.Unreachable) > 0 {
		fmt.Fprintf(w, "unreachable: %s\n", strings.Join(st.Unreachable, ", "))
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "HEAP\tREPLICAS\tLEADER\tVOTERS\tLEARNERS\tAPPLIED\n")
	for _, h := range st.Heaps {
		var applied []string
		for _, node := range slices.Sorted(maps.Keys(h.ReplicaApplied)) {
			applied = append(applied, fmt.Sprintf("%s=%d", node, h.ReplicaApplied[node]))
		}
		voters := strings.Join(h.Voters, ",")
		if h.Joint {
			voters += " (joint)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", h.Name, h.Replicas, orDefault(h.Leader, "-"), voters,
			orDefault(strings.Join(h.Learners, ","), "-"), strings.Join(applied, " "))
	}
	tw.Flush()
	for _, h := range st.Heaps {
		printReplicaTrouble(w, h)
	}
	printAbsent(w, st)
	printShort(w, st)                // shortmsg.go
	printExpiring(w, st, time.Now()) // certexpiry.go
}

// namesSaid returns st with its heaps' names as a status prints them
// (nameSaid), for every line printStatus prints: the tables (the heaps a
// member leads too), the lost, stuck, down and short lines.
func namesSaid(st *oss.ClusterStatus) *oss.ClusterStatus {
	said := *st
	said.Heaps = slices.Clone(st.Heaps)
	for i := range said.Heaps {
		said.Heaps[i].Name = nameSaid(said.Heaps[i].Name) // shellword.go
	}
	said.Members = slices.Clone(st.Members)
	for i := range said.Members {
		leads := make([]string, len(said.Members[i].Leads))
		for j, h := range said.Members[i].Leads {
			leads[j] = nameSaid(h)
		}
		said.Members[i].Leads = leads
	}
	return &said
}

// printAbsent names the voters and learners of st's heaps that are no
// live member. A node on a revoked certificate has every peer refuse it,
// so its view comes to hold itself alone: its "down:" lines named every
// live voter of the cluster gone, and an operator asking the revoked node
// first (the CLI's --http goes on from it only for other requests) read
// that the cluster had lost all its other nodes. Such a node's status
// says it is cut off once its view holds no other member; until then
// (seconds after the revocation: 9.9 s with GossipLAN) its view still
// lists members, and its lines are printed under a note that they are
// not to be trusted.
func printAbsent(w io.Writer, st *oss.ClusterStatus) {
	if st.Revoked != "" {
		if !slices.ContainsFunc(st.Members, func(m oss.Member) bool { return m.Name != st.Node }) {
			fmt.Fprintf(w, "cut off: %s sees no other member, live or not (its peers refuse it): ask another node's status which are down\n", st.Node)
			return
		}
		fmt.Fprintf(w, "revoked: %s's view of the members below is that of a node its peers refuse, not to be trusted: ask another node's status which are down\n", st.Node)
	}
	down := downVoters(st)
	for _, node := range slices.Sorted(maps.Keys(down)) {
		fmt.Fprintf(w, "down: %s, a voter of %s, is no live member\n", node, strings.Join(down[node], ", "))
	}
	gone := goneLearners(st)
	for _, node := range slices.Sorted(maps.Keys(gone)) {
		fmt.Fprintf(w, "not live: %s, a learner of %s, is no live member; its groups remove it once it has been gone --replace-after\n",
			node, strings.Join(gone[node], ", "))
	}
}

// printReplicaTrouble prints the replicas of h that were lost, whose
// node's log refuses their writes (stuck: a full disk, which they get
// over once it takes them again), or whose node's log has stopped for
// good (log failed: freeing space does nothing, the node is to be
// rebuilt), with each one's reason.
func printReplicaTrouble(w io.Writer, h oss.HeapStatus) {
	for _, node := range slices.Sorted(maps.Keys(h.Lost)) {
		fmt.Fprintf(w, "lost: the replica of %s on %s: %s\n", h.Name, node, h.Lost[node])
	}
	for _, node := range h.LogFailed {
		why := ""
		if r, ok := h.Stuck[node]; ok {
			why = ": " + r
		}
		fmt.Fprintf(w, "log failed: the replica of %s on %s commits and applies nothing more: %s's write-ahead log has stopped; rebuild %s with --rebuild-replica --join%s\n",
			h.Name, node, node, node, why)
	}
	for _, node := range slices.Sorted(maps.Keys(h.Stuck)) {
		if slices.Contains(h.LogFailed, node) {
			continue
		}
		fmt.Fprintf(w, "stuck: the replica of %s on %s cannot write its log, and applies nothing until it can (free space or mend the disk): %s\n",
			h.Name, node, h.Stuck[node])
	}
}

// goneLearners returns the learners that are not among the members the
// node sees live, each with its heaps: a learner's node killed (or one
// cut off) stays in its groups until their leaders remove it, once it
// has been missing for their --replace-after, and the status listed it
// as a learner all that while with nothing saying it had gone.
func goneLearners(st *oss.ClusterStatus) map[string][]string {
	gone := map[string][]string{}
	for _, h := range st.Heaps {
		for _, l := range h.Learners {
			if !slices.ContainsFunc(st.Members, func(m oss.Member) bool { return m.Name == l }) {
				gone[l] = append(gone[l], h.Name)
			}
		}
	}
	return gone
}

// downVoters returns the voters that are not among the members the node
// sees live, each with its heaps: a voter killed, or cut off, leaves the
// member list but stays in its groups until it is replaced.
func downVoters(st *oss.ClusterStatus) map[string][]string {
	down := map[string][]string{}
	for _, h := range st.Heaps {
		for _, v := range h.Voters {
			if !slices.ContainsFunc(st.Members, func(m oss.Member) bool { return m.Name == v }) {
				down[v] = append(down[v], h.Name)
			}
		}
	}
	return down
}

func heaps(args []string) error { return heapsIO(os.Stdin, os.Stdout, os.Stderr, args) }

// heapsTo is "ossd heaps", printing to w.
func heapsTo(w io.Writer, args []string) error { return heapsIO(os.Stdin, w, os.Stderr, args) }

// heapsIO is "ossd heaps", reading a restore's backup from stdin (--in -),
// printing to w, and a backup's summary to notes (w may be the backup).
func heapsIO(stdin io.Reader, w, notes io.Writer, args []string) error {
	fs, dial := clientFlags("ossd heaps")
	replicas := fs.Int("replicas", 0, "voters of the heap \"heaps create\" or \"heaps restore\" makes (default: the node's --replicas)")
	asJSON := fs.Bool("json", false, "print the list (or set-replicas' answer) as JSON (a heap's name may hold spaces)")
	out := fs.String("out", "", "the file \"heaps backup\" writes (via a FILE.tmpNNN of its own, synced, renamed); - for stdout")
	in := fs.String("in", "", "the backup \"heaps restore\" sends, checked whole first; - for stdin")
	fresh := fs.Bool("fresh", false, "\"heaps backup\": back up the state after everything committed when it began (a fresh read)")
	group := fs.Uint64("group", 0, "\"heaps drop\": drop the heap only if it is of this group (the GROUP \"ossd heaps\" lists), not another of the name created since")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	usage := errors.New("heaps: want no argument, \"create NAME\", \"drop NAME\", \"set-replicas NAME N\", \"backup NAME --out FILE\" or \"restore NAME --in FILE\"" + flagAfterDashes(fs, pos)) // dashhint.go
	if !(len(pos) == 0 || len(pos) == 2 && slices.Contains([]string{"create", "drop", "backup", "restore"}, pos[0]) || len(pos) == 3 && pos[0] == "set-replicas") {
		return usage // before connecting: flags after "--" were not taken
	}
	form := ""
	if len(pos) > 0 {
		form = pos[0]
	}
	if err := strayHeapsFlags(fs, form); err != nil { // heapsflags.go
		return err
	}
	if err := noGroupZero(fs, *group); err != nil { // heapsflags.go
		return err
	}
	ctx, c, done, err := connect(dial)
	if err != nil {
		return err
	}
	defer done()
	switch {
	case len(pos) == 0:
		hs, err := c.Heaps(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSONTo(w, hs)
		}
		return printHeaps(w, hs)
	case len(pos) == 2 && pos[0] == "create":
		if err := c.CreateHeap(ctx, pos[1], *replicas); err != nil {
			return outcomeUnknown(err, "ossd heaps") // unknownmsg.go
		}
		return printCreated(ctx, w, c, pos[1]) // heapsmsg.go
	case len(pos) == 2 && pos[0] == "drop" && *group != 0:
		return dropOfGroup(ctx, w, c, pos[1], *group) // dropgroup.go
	case len(pos) == 2 && pos[0] == "drop":
		if err := c.DropHeap(ctx, pos[1]); err != nil {
			return outcomeUnknown(explainNotFound(c, "heaps drop", pos[1], "", err), "ossd heaps") // notfound.go, unknownmsg.go
		}
		_, err := fmt.Fprintf(w, "dropped heap %q\n", pos[1])
		return err
	case len(pos) == 3 && pos[0] == "set-replicas":
		return setReplicas(ctx, w, c, pos[1], pos[2], *asJSON) // heapsmsg.go
	case len(pos) == 2 && pos[0] == "backup":
		return backupHeap(c, w, notes, pos[1], *out, *fresh) // backup.go
	case len(pos) == 2 && pos[0] == "restore":
		return restoreHeap(c, stdin, w, pos[1], *in, *replicas) // backup.go
	}
	return usage
}

// printHeaps prints the list "ossd heaps" prints, each name as nameSaid
// says it.
func printHeaps(w io.Writer, hs []oss.HeapStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "HEAP\tREPLICAS\tGROUP\n")
	for _, h := range hs {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", nameSaid(h.Name), h.Replicas, h.Group) // shellword.go
	}
	return tw.Flush()
}

func get(args []string) error { return getTo(os.Stdout, args) }

// getTo is "ossd get", printing the object to w with its value's every
// digit (admin.Object.ValueJSON): printed from Value, an integer beyond
// 2^53 came out rounded, 9007199254740993 as 9007199254740992, though
// the heap held it exactly.
func getTo(w io.Writer, args []string) error {
	fs, dial := clientFlags("ossd get")
	fresh := fs.Bool("fresh", false, "read linearizably: wait until the node has applied every commit acknowledged before")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return errors.New("get: want HEAP and a root name or an object ID" + flagAfterDashes(fs, pos)) // dashhint.go
	}
	ctx, c, done, err := connect(dial)
	if err != nil {
		return err
	}
	defer done()
	var o admin.Object
	if id, perr := uuid.Parse(pos[1]); perr == nil {
		o, err = c.Object(ctx, pos[0], id, *fresh)
		if errors.Is(err, oss.ErrNotFound) {
			// No such object: a root may be named so ("put" takes any
			// name), and was never read back.
			if ro, rerr := c.Root(ctx, pos[0], pos[1], *fresh); rerr == nil {
				o, err = ro, nil
			}
		}
	} else {
		o, err = c.Root(ctx, pos[0], pos[1], *fresh)
	}
	if err != nil {
		return explainNotFound(c, "get", pos[0], pos[1], explainNoQuorum(c, pos[0], err)) // notfound.go, quorummsg.go
	}
	return printJSONTo(w, struct {
		ID      uuid.UUID       `json:"id"`
		Version uint64          `json:"version"`
		Value   json.RawMessage `json:"value"`
		Index   uint64          `json:"index"`
	}{o.ID, o.Version, o.ValueJSON, o.Index})
}

func put(args []string) error { return putTo(os.Stdin, os.Stdout, os.Stderr, args) }

// putFrom is "ossd put" with its notes on stderr.
func putFrom(stdin io.Reader, w io.Writer, args []string) error {
	return putTo(stdin, w, os.Stderr, args)
}

// putTo is "ossd put", reading a value of "-" from stdin, printing the
// commit to w and its notes to notes. It creates the heap only if the
// heap did not exist when the command began: one dropped while the
// command runs (as it reads a value from stdin, say) is not created
// again. A heap it created is told on notes, as a mistyped name would
// otherwise make a heap unseen.
func putTo(stdin io.Reader, w, notes io.Writer, args []string) error {
	fs, dial := clientFlags("ossd put")
	maxBody := fs.Int64("http-max-body", admin.DefaultMaxBodyBytes, "the most bytes of a value put reads from stdin: the node's --http-max-body, if it was given one")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 3 {
		return errors.New("put: want HEAP, ROOT and a JSON value (\"-\": read it from stdin)" + flagAfterDashes(fs, pos))
	}
	if *maxBody <= 0 {
		return fmt.Errorf("put: --http-max-body %d: want a positive number of bytes", *maxBody)
	}
	var v json.RawMessage
	if pos[2] != "-" {
		if err := json.Unmarshal([]byte(pos[2]), &v); err != nil {
			return fmt.Errorf("put: the value is not JSON: %w", err)
		}
	}
	c, err := dial()
	if err != nil {
		return err
	}
	defer c.Close()
	existed, err := heapExists(c, pos[0])
	if err != nil {
		return err
	}
	if pos[2] == "-" {
		// A value larger than an argument may be (128 KiB on Linux).
		text, err := readValue(stdin, *maxBody) // putlimit.go
		if err != nil {
			return err
		}
		if err := json.Unmarshal(text, &v); err != nil {
			return fmt.Errorf("put: the value is not JSON: %w", err)
		}
	}
	ctx, cancel := cmdContext()
	defer cancel()
	var out admin.Committed
	if existed {
		out, err = c.PutRootInExisting(ctx, pos[0], pos[1], v)
		if errors.Is(err, oss.ErrNoHeap) {
			return fmt.Errorf("put: heap %q existed when put began and was dropped since: not created again (put again to create it): %w", pos[0], err)
		}
	} else {
		out, err = c.PutRoot(ctx, pos[0], pos[1], v)
	}
	if err != nil {
		if !existed {
			noteCreatedThenRefused(notes, pos[0], err) // diskmsg.go
		}
		err = explainCreatedNotOpen(pos[0], explainNoQuorum(c, pos[0], err))       // createdmsg.go, quorummsg.go
		return outcomeUnknown(err, suggest("ossd get", "--fresh", pos[0], pos[1])) // unknownmsg.go
	}
	if !existed {
		fmt.Fprintf(notes, "ossd: put: heap %q did not exist when put began, so put created it (\"%s\" removes it)\n", pos[0], suggest("ossd heaps drop", "", pos[0]))
	}
	return printJSONTo(w, out)
}

// heapExists reports whether the heap directory, as the node has it,
// lists heap.
func heapExists(c *admin.Client, heap string) (bool, error) {
	ctx, cancel := cmdContext()
	defer cancel()
	hs, err := c.Heaps(ctx)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(hs, func(h oss.HeapStatus) bool { return h.Name == heap }), nil
}
