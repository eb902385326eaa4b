// Command bench measures OSS side by side with embedded etcd: the same
// workloads on three members of each, with mutual TLS and durable
// commits, each system in a child process of its own so that its memory
// is measured alone. Run it from this directory: go run . (see README.md,
// "Against etcd").
//
// The etcd worker is this binary run with -worker etcd. The OSS worker is
// built from ./osswork, a module of its own: OSS uses go.etcd.io/raft/v3
// v3.6 and etcd 3.7.3 needs raft v3.7, whose API differs, so the two
// cannot be linked into one binary.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	var p params
	flag.IntVar(&p.Keys, "keys", 100_000, "keys preloaded")
	flag.IntVar(&p.Value, "value", 100, "bytes of each value")
	flag.IntVar(&p.Clients, "clients", 64, "concurrent clients of workloads a and c")
	flag.IntVar(&p.Hot, "hot", 10, "keys workload c contends on")
	flag.DurationVar(&p.Duration, "duration", 3*time.Second, "duration of each workload")
	rounds := flag.Int("rounds", 2, "rounds, each runs etcd then OSS")
	systems := flag.String("systems", "etcd,oss", "systems to run, in this order each round")
	tmp := flag.String("tmp", "", "directory for the members' data (on the disk to measure; default the system's temporary directory)")
	ossWorker := flag.String("oss-worker", "", "a built OSS worker (default: go build ./osswork)")
	out := flag.String("json", "", "also write every round's figures to this file")
	scale := flag.String("scale", "", "instead of the comparison, measure OSS's commits/s with -heaps heaps over each of these numbers of nodes (e.g. 3,5,7)")
	scaleHeaps := flag.String("heaps", "1,2,4,8", "numbers of heaps for -scale")
	memprofile := flag.String("memprofile", "", "write each worker's heap profile after the preload to this directory (SYSTEM-ROUND.pprof)")
	cpuprofile := flag.String("cpuprofile", "", "write each worker's CPU profiles of workloads a and b to this directory (SYSTEM-ROUND-a.pprof, -b.pprof)")
	traces := flag.String("trace", "", "write each worker's execution traces of workloads a and b to this directory (SYSTEM-ROUND-a.trace, -b.trace; go tool trace)")
	verbose := flag.Bool("v", false, "pass the workers' logs through")
	worker := flag.String("worker", "", "internal: run as the worker of this system")
	certs := flag.String("certs", "", "internal: the worker's certificates")
	flag.StringVar(&p.MemProfile, "heapprofile", "", "internal: the worker's heap profile")
	flag.StringVar(&p.CPUProfile, "cpuprofile-to", "", "internal: where the worker writes its CPU profiles")
	flag.StringVar(&p.Trace, "trace-to", "", "internal: where the worker writes its execution traces")
	data := flag.String("data", "", "internal: the worker's data directory")
	flag.Parse()
	log.SetFlags(0)

	if *worker != "" {
		if *worker != "etcd" {
			log.Fatalf("bench: this binary is the etcd worker; OSS's is built from ./osswork")
		}
		res, err := runEtcd(p, *data, *certs)
		if err != nil {
			log.Fatalf("etcd worker: %v", err)
		}
		if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
			log.Fatal(err)
		}
		return
	}

	dir, err := os.MkdirTemp(*tmp, "oss-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	certsDir := filepath.Join(dir, "certs")
	if err := os.Mkdir(certsDir, 0o700); err != nil {
		log.Fatal(err)
	}
	if err := writeCerts(certsDir); err != nil {
		log.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	bins := map[string][]string{"etcd": {self, "-worker", "etcd"}}
	if *scale != "" {
		*systems = "oss"
	}
	if strings.Contains(*systems, "oss") {
		bin := *ossWorker
		if bin == "" {
			if _, err := os.Stat(filepath.Join("osswork", "go.mod")); err != nil {
				log.Fatalf("bench: run from bench/ (no osswork/go.mod here): %v", err)
			}
			bin = filepath.Join(dir, "osswork")
			build := exec.Command("go", "build", "-o", bin, ".")
			build.Dir = "osswork"
			build.Stdout, build.Stderr = os.Stderr, os.Stderr
			if err := build.Run(); err != nil {
				log.Fatalf("bench: building the OSS worker: %v", err)
			}
		}
		bins["oss"] = []string{bin}
	}

	args := []string{
		"-keys", fmt.Sprint(p.Keys), "-value", fmt.Sprint(p.Value), "-clients", fmt.Sprint(p.Clients),
		"-hot", fmt.Sprint(p.Hot), "-duration", p.Duration.String(), "-certs", certsDir,
	}
	all := map[string][]map[string]float64{}
	start := time.Now()
	loadBefore := loadavg()
	if *scale != "" {
		runScale(bins["oss"], args, dir, *scale, *scaleHeaps, *rounds, p.Duration, loadBefore)
		return
	}
	for r := range *rounds {
		for _, sys := range strings.Split(*systems, ",") {
			bin, ok := bins[sys]
			if !ok {
				log.Fatalf("bench: no system %q (etcd, oss)", sys)
			}
			data := filepath.Join(dir, fmt.Sprintf("%s-%d", sys, r))
			if err := os.Mkdir(data, 0o700); err != nil {
				log.Fatal(err)
			}
			t0 := time.Now()
			fmt.Fprintf(os.Stderr, "round %d/%d %s ... ", r+1, *rounds, sys)
			wargs := append(append(bin[1:], args...), "-data", data)
			if *memprofile != "" {
				prof, err := filepath.Abs(filepath.Join(*memprofile, fmt.Sprintf("%s-%d.pprof", sys, r+1)))
				if err != nil {
					log.Fatal(err)
				}
				flagName := "-memprofile" // osswork's
				if sys == "etcd" {
					flagName = "-heapprofile"
				}
				wargs = append(wargs, flagName, prof)
			}
			if *cpuprofile != "" {
				prof, err := filepath.Abs(filepath.Join(*cpuprofile, fmt.Sprintf("%s-%d", sys, r+1)))
				if err != nil {
					log.Fatal(err)
				}
				flagName := "-cpuprofile" // osswork's
				if sys == "etcd" {
					flagName = "-cpuprofile-to"
				}
				wargs = append(wargs, flagName, prof)
			}
			if *traces != "" {
				prof, err := filepath.Abs(filepath.Join(*traces, fmt.Sprintf("%s-%d", sys, r+1)))
				if err != nil {
					log.Fatal(err)
				}
				flagName := "-trace" // osswork's
				if sys == "etcd" {
					flagName = "-trace-to"
				}
				wargs = append(wargs, flagName, prof)
			}
			cmd := exec.Command(bin[0], wargs...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout = &stdout
			cmd.Stderr = &stderr
			if *verbose {
				cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
			}
			err := cmd.Run()
			var res result
			if err == nil {
				err = json.Unmarshal(stdout.Bytes(), &res)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "\n%s", tail(stderr.String(), 40))
				log.Fatalf("bench: %s worker: %v", sys, err)
			}
			fmt.Fprintf(os.Stderr, "%.0fs\n", time.Since(t0).Seconds())
			all[sys] = append(all[sys], res.Metrics)
			os.RemoveAll(data)
			// The next round starts on a quiet disk: the writeback of
			// this round's files and their removal (the discards of a
			// filesystem mounted with them) would otherwise land in
			// the other system's round.
			syscall.Sync()
		}
	}
	fmt.Fprintf(os.Stderr, "%d rounds in %.0fs\n", *rounds, time.Since(start).Seconds())
	if *out != "" {
		b, _ := json.MarshalIndent(all, "", "  ")
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	procs := ""
	if g := os.Getenv("GOMAXPROCS"); g != "" {
		// The workers inherit it: a Go process's threads in a system call
		// (an fsync) keep their processor, so this moves both systems.
		procs = ", workers with GOMAXPROCS=" + g
	}
	fmt.Printf("\n%s, %d CPUs%s, load average before %s, after %s (/proc/loadavg: 1, 5, 15 minutes).\n",
		start.Format("2006-01-02 15:04 MST"), runtime.NumCPU(), procs, loadBefore, loadavg())
	report(os.Stdout, p, all)
}

// loadavg is the machine's load averages, as uptime prints them.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n") + "\n"
}

// row is one line of the table: etcd's figure under key etcdKey, OSS's
// under ossKey (the same but where OSS has no separate natural client).
type row struct {
	label          string
	etcdKey        string
	ossKey         string
	higherIsBetter bool
	format         string
}

func rows(p params) []row {
	k := thousands(p.Keys)
	return []row{
		{fmt.Sprintf("a. %d clients, read-modify-write over %s keys, commits/s", p.Clients, k), "a_cps", "a_cps", true, "%.0f"},
		{"a. same, natural clients (etcd gRPC+TLS, OSS embedded), commits/s", "a_nat_cps", "a_cps", true, "%.0f"},
		{"a. same, log syncs per commit (three members)", "a_syncs_per_commit", "a_syncs_per_commit", false, "%.2f"},
		{"a. same, processor time per commit (the three members' process), µs", "a_cpu_us", "a_cpu_us", false, "%.0f"},
		{"b. one client, read-modify-write on the leader, p50 µs", "b_p50_us", "b_p50_us", false, "%.0f"},
		{"b. same, p99 µs", "b_p99_us", "b_p99_us", false, "%.0f"},
		{"b. same, log syncs per commit (three members)", "b_syncs_per_commit", "b_syncs_per_commit", false, "%.2f"},
		{"b. same, processor time per commit (the three members' process), µs", "b_cpu_us", "b_cpu_us", false, "%.0f"},
		{"b. same, natural clients, p50 µs", "b_nat_p50_us", "b_p50_us", false, "%.0f"},
		{"b. same, natural clients, p99 µs", "b_nat_p99_us", "b_p99_us", false, "%.0f"},
		{fmt.Sprintf("c. %d clients on %d keys, commits/s", p.Clients, p.Hot), "c_cps", "c_cps", true, "%.0f"},
		{"c. same, most retries of one transaction", "c_max_retries", "c_max_retries", false, "%.0f"},
		{"c. same, transactions failed with ErrConflict (OSS default MaxRetries)", "c_failed", "c_failed", false, "%.0f"},
		{"d. local read on a follower (serializable Get / View), one client, ops/s", "d_ops", "d_ops", true, "%.0f"},
		{"e. write on the leader → watch event on a follower, p50 µs from the write's start", "e_p50_us", "e_p50_us", false, "%.0f"},
		{"e. same, p99 µs", "e_p99_us", "e_p99_us", false, "%.0f"},
		{"e. (the write alone, p50 µs)", "e_commit_p50_us", "e_commit_p50_us", false, "%.0f"},
		{"f. linearizable read on a follower (Get / Fresh View), one client, ops/s", "f_ops", "f_ops", true, "%.0f"},
		{"g. Go heap in use after preload (3 members), MB", "mem_heap_mb", "mem_heap_mb", false, "%.1f"},
		{"g. peak RSS after preload (3 members), MB", "mem_rss_mb", "mem_rss_mb", false, "%.1f"},
		{"g. peak RSS at the end of all workloads, MB", "rss_end_mb", "rss_end_mb", false, "%.1f"},
		{"preload, s", "preload_s", "preload_s", false, "%.1f"},
	}
}

// thousands writes n with a comma every three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func figures(runs []map[string]float64, key string) ([]float64, bool) {
	var xs []float64
	for _, r := range runs {
		v, ok := r[key]
		if !ok {
			return nil, false
		}
		xs = append(xs, v)
	}
	return xs, len(xs) > 0
}

func report(w io.Writer, p params, all map[string][]map[string]float64) {
	fmt.Fprintf(w, "\nMedians of %d rounds (etcd, OSS, etcd, OSS, ...), %v each workload; ratio is OSS/etcd.\n\n", max(len(all["etcd"]), len(all["oss"])), p.Duration)
	fmt.Fprintln(w, "| workload | etcd | OSS | OSS/etcd | better | etcd rounds | OSS rounds |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|---|---|")
	for _, r := range rows(p) {
		e, eok := figures(all["etcd"], r.etcdKey)
		o, ook := figures(all["oss"], r.ossKey)
		if !eok && !ook {
			continue
		}
		cell := func(xs []float64, ok bool) string {
			if !ok {
				return "–"
			}
			return fmt.Sprintf(r.format, median(xs))
		}
		list := func(xs []float64) string {
			var s []string
			for _, x := range xs {
				s = append(s, fmt.Sprintf(r.format, x))
			}
			return strings.Join(s, ", ")
		}
		ratio, better := "–", "higher"
		if !r.higherIsBetter {
			better = "lower"
		}
		if eok && ook && median(e) != 0 {
			ratio = fmt.Sprintf("%.2f×", median(o)/median(e))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.label, cell(e, eok), cell(o, ook), ratio, better, list(e), list(o))
	}
}
