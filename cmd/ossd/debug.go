package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// debugCommand runs "ossd debug bundle".
func debugCommand(args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		return subcommandHelp("debug") // synopsis.go
	}
	if len(args) == 0 || args[0] != "bundle" {
		return errors.New(`"debug" takes the subcommand "bundle"`)
	}
	return debugBundle(args[1:], os.Stdout)
}

// nodeFile is one file a bundle collects from each node: its name in the
// node's folder, and the admin interface's path it comes from.
type nodeFile struct {
	name, path string
}

// debugBundleUsage is the help of "ossd debug bundle", before its flags.
const debugBundleUsage = `Usage: ossd debug bundle [--http ADDR,ADDR,...] [--out FILE] [--cpu 5s]

Collects from the admin interface of each node listed in --http its view of
the cluster status, its Prometheus metrics, its recent log lines, a
goroutine dump, a heap profile and a CPU profile (--cpu), into one tar.gz
to attach to a bug report: NODE/status.json, metrics.txt, logs.txt,
goroutines.txt, heap.pb.gz, cpu.pb.gz, and errors.txt for what a node
failed to give (the others are collected all the same; the archive is
written, and the command exits 1). README.txt names
the command, the time, and the members of the cluster the bundle lacks.
Members do not advertise their admin addresses: list every node's in
--http. The user needs an admin certificate: profiles and logs are for
operators only. The profiles read with "go tool pprof FILE".

`

// debugBundle runs "ossd debug bundle": it collects, from each node of
// --http, the cluster status, metrics, recent logs, a goroutine dump, a
// heap profile and a CPU profile into one tar.gz. What one node fails to
// give is written to its errors.txt; the bundle is written all the same,
// and the command then fails, so that a partial bundle is not taken for a
// whole one.
func debugBundle(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ossd debug bundle", flag.ContinueOnError)
	addrs := fs.String("http", admin.DefaultAddr, "comma-separated addresses of the admin interfaces of the nodes to collect from (members do not advertise theirs: list every node's)")
	certs := fs.String("certs", "certs", "directory holding ca.crt and the user's NAME.crt and NAME.key")
	user := fs.String("user", "admin", "the user: the name of an admin certificate (\"ossd cert issue --dir DIR --name NAME --role admin\")")
	insecure := fs.Bool("http-insecure", false, "speak plain HTTP without a certificate, to nodes run with --http-insecure")
	out := fs.String("out", "", "the archive to write (default oss-debug-TIME.tar.gz in the current directory)")
	cpu := fs.Duration("cpu", 5*time.Second, "how long each node's CPU profile runs (0: none)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), debugBundleUsage)
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("debug bundle: unexpected arguments %q", pos)
	}
	if *cpu < 0 || *cpu > admin.MaxProfileDuration {
		return fmt.Errorf("debug bundle: --cpu %v: want 0 to %v", *cpu, admin.MaxProfileDuration)
	}
	list := addrList(*addrs)
	if len(list) == 0 {
		return errors.New("debug bundle: --http lists no address")
	}
	now := time.Now().UTC()
	if *out == "" {
		*out = "oss-debug-" + now.Format("20060102T150405Z") + ".tar.gz"
	}
	opts := &admin.ClientOptions{CertDir: *certs, Name: *user, Insecure: *insecure, Timeout: *cpu + 30*time.Second}
	if !*insecure {
		warnOpenUserKey(os.Stderr, *certs, *user)
		warnExpiringUserCert(os.Stderr, *certs, *user, time.Now()) // certexpiry.go
		// Refused before anything is collected or written.
		if _, err := admin.LoadClientTLS(*certs, *user); err != nil {
			return fmt.Errorf("debug bundle: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *cpu+time.Minute)
	defer cancel()
	nodes := collectNodes(ctx, list, opts, bundleFiles(*cpu))

	if err := saveBundle(*out, func(w io.Writer) error { return writeBundle(w, now, args, nodes) }); err != nil {
		return fmt.Errorf("debug bundle: %s: %w", *out, err)
	}
	failed := 0
	for _, n := range nodes {
		if len(n.errs) > 0 {
			failed++
			fmt.Fprintf(stdout, "%s (%s): %d of its files missing, see %s/errors.txt\n", n.dir, n.addr, len(n.errs), n.dir)
		}
	}
	fmt.Fprintf(stdout, "wrote %s: %d node(s), %d with errors\n", *out, len(nodes), failed)
	if failed > 0 {
		// The archive is kept, but a script that uploads it on success
		// must not take a partial bundle for a whole one.
		return fmt.Errorf("debug bundle: %s is partial: %d of %d node(s) gave only part of their files (see their errors.txt)", *out, failed, len(nodes))
	}
	return nil
}

// addrList returns the comma-separated addresses in s, each once.
func addrList(s string) []string {
	var list []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" && !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

// bundleFiles returns the files a bundle collects from each node, with a
// CPU profile of cpu unless it is 0.
func bundleFiles(cpu time.Duration) []nodeFile {
	files := []nodeFile{
		{"metrics.txt", "/metrics"},
		{"logs.txt", "/debug/logs"},
		{"goroutines.txt", "/debug/pprof/goroutine?debug=2"},
		{"heap.pb.gz", "/debug/pprof/heap"},
	}
	if cpu > 0 {
		files = append(files, nodeFile{"cpu.pb.gz", fmt.Sprintf("/debug/pprof/profile?seconds=%g", cpu.Seconds())})
	}
	return files
}

// collectNodes collects files from the nodes at addrs, all at once.
func collectNodes(ctx context.Context, addrs []string, opts *admin.ClientOptions, files []nodeFile) []*nodeBundle {
	nodes := make([]*nodeBundle, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() { nodes[i] = collectNode(ctx, addr, opts, files) })
	}
	wg.Wait()
	return nodes
}

// nodeBundle is what was collected from one node.
type nodeBundle struct {
	addr   string
	name   string // the node's name, from its status; "" if it gave none
	dir    string // its folder in the archive
	status *oss.ClusterStatus
	files  map[string][]byte
	errs   []string
}

// collectNode collects files (and status.json) from the node at addr.
func collectNode(ctx context.Context, addr string, opts *admin.ClientOptions, files []nodeFile) *nodeBundle {
	nb := &nodeBundle{addr: addr, files: make(map[string][]byte)}
	c, err := admin.NewClient(addr, opts)
	if err != nil {
		nb.errs = append(nb.errs, err.Error())
		nb.dir = dirName(addr)
		return nb
	}
	defer c.Close()
	if st, err := c.Status(ctx); err != nil {
		nb.errs = append(nb.errs, fmt.Sprintf("status.json: GET /v1/status: %v", err))
	} else {
		nb.status, nb.name = &st, st.Node
		b, _ := json.MarshalIndent(st, "", "  ")
		nb.files["status.json"] = append(b, '\n')
	}
	for _, f := range files {
		b, err := c.Fetch(ctx, f.path)
		if err != nil {
			nb.errs = append(nb.errs, fmt.Sprintf("%s: GET %s: %v", f.name, f.path, err))
			continue
		}
		nb.files[f.name] = b
	}
	nb.dir = dirName(orDefault(nb.name, addr))
	return nb
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// dirName is a node's folder in the archive: its name (or address) with
// anything but letters, digits, dots, dashes and underscores replaced.
func dirName(s string) string {
	s = unsafeName.ReplaceAllString(s, "_")
	if s == "" || s == "." || s == ".." {
		s = "_" + s
	}
	return s
}

// writeBundle writes the archive: README.txt, then each node's folder.
func writeBundle(w io.Writer, now time.Time, args []string, nodes []*nodeBundle) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	root := "oss-debug-" + now.Format("20060102T150405Z")
	add := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: root + "/" + name, Mode: 0o600, Size: int64(len(b)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	// Two nodes that give one name (or none, at one address) keep
	// folders apart.
	seen := map[string]int{}
	for _, n := range nodes {
		if k := seen[n.dir]; k > 0 {
			n.dir = fmt.Sprintf("%s-%d", n.dir, k+1)
		}
		seen[n.dir]++
	}
	if err := add("README.txt", []byte(bundleReadme(now, args, nodes))); err != nil {
		return err
	}
	for _, n := range nodes {
		for _, name := range slices.Sorted(maps.Keys(n.files)) {
			if err := add(n.dir+"/"+name, n.files[name]); err != nil {
				return err
			}
		}
		if len(n.errs) > 0 {
			if err := add(n.dir+"/errors.txt", []byte(strings.Join(n.errs, "\n")+"\n")); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// bundleReadme says what the bundle is: the command, the time, the
// ossd that made it, each node's folder, and the members of the cluster
// none of the nodes' folders is from.
func bundleReadme(now time.Time, args []string, nodes []*nodeBundle) string {
	var b strings.Builder
	fmt.Fprintf(&b, "OSS debug bundle\n\ncommand: ossd debug bundle %s\ntime:    %s\n", strings.Join(args, " "), now.Format(time.RFC3339))
	if bi, ok := debug.ReadBuildInfo(); ok {
		fmt.Fprintf(&b, "ossd:    %s %s\n", bi.Main.Version, bi.GoVersion)
	}
	b.WriteString("\nnodes (a folder each):\n")
	have := map[string]bool{}
	var members []string
	for _, n := range nodes {
		state := "complete"
		if len(n.errs) > 0 {
			state = fmt.Sprintf("%d error(s), see errors.txt", len(n.errs))
		}
		fmt.Fprintf(&b, "  %s/\tadmin %s\t%s\n", n.dir, n.addr, state)
		have[n.name] = true
		if n.status != nil {
			for _, m := range n.status.Members {
				if !slices.Contains(members, m.Name) {
					members = append(members, m.Name)
				}
			}
		}
	}
	var missing []string
	for _, m := range members {
		if !have[m] {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(&b, "\nmembers not collected (pass their admin addresses in --http): %s\n", strings.Join(missing, ", "))
	}
	b.WriteString(`
Each folder: status.json (the cluster status as that node gathers it),
metrics.txt (Prometheus text format), logs.txt (the node's last log lines),
goroutines.txt (every goroutine's stack), heap.pb.gz and cpu.pb.gz (read
with "go tool pprof FILE"), errors.txt (what the node failed to give).
`)
	return b.String()
}

// saveBundle writes a bundle to path with mode 0600, as the operator's
// keys: it holds the cluster's logs, addresses and names. A regular file
// (or none) is written to a temporary file beside it and renamed over
// it, so an older file's mode is not kept and no half bundle is left
// under its name; anything else there (/dev/stdout, a pipe, a symbolic
// link) is written through, as it is.
func saveBundle(path string, write func(io.Writer) error) error {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		err = write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".oss-debug-*.tmp")
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
