package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// runScale runs the OSS worker in its scale-out mode once per number of
// nodes a round, and prints commits/s and CPU a commit by heaps and nodes.
func runScale(bin, args []string, dir, nodes, heaps string, rounds int, d time.Duration, loadBefore string) {
	start := time.Now()
	ns := strings.Split(nodes, ",")
	runs := map[string][]map[string]float64{}
	for r := range rounds {
		for _, n := range ns {
			data := filepath.Join(dir, fmt.Sprintf("scale-%s-%d", n, r))
			if err := os.Mkdir(data, 0o700); err != nil {
				log.Fatal(err)
			}
			t0 := time.Now()
			fmt.Fprintf(os.Stderr, "round %d/%d, %s nodes ... ", r+1, rounds, n)
			cmd := exec.Command(bin[0], append(append(bin[1:], args...), "-data", data, "-scale-nodes", n, "-scale-heaps", heaps)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var res result
			if err == nil {
				err = json.Unmarshal(stdout.Bytes(), &res)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "\n%s", tail(stderr.String(), 40))
				log.Fatalf("bench: oss scale worker: %v", err)
			}
			fmt.Fprintf(os.Stderr, "%.0fs\n", time.Since(t0).Seconds())
			runs[n] = append(runs[n], res.Metrics)
			os.RemoveAll(data)
		}
	}
	fmt.Printf("\n%s, %d CPUs, load average before %s, after %s (/proc/loadavg: 1, 5, 15 minutes).\n",
		start.Format("2006-01-02 15:04 MST"), runtime.NumCPU(), loadBefore, loadavg())
	fmt.Printf("\nOSS scale-out: heaps of 3 voters placed over the nodes, 16 clients a heap (read-modify-write on 1,000 objects), %v a run; medians of %d rounds. Speed-up is commits/s over one heap's on the same nodes; CPU is the process's user+system seconds a commit.\n\n", d, rounds)
	fmt.Println("| nodes | heaps | commits/s | commits/s a heap | speed-up | CPU µs a commit | rounds (commits/s) |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---|")
	for _, n := range ns {
		var one float64
		for _, h := range strings.Split(heaps, ",") {
			h = strings.TrimSpace(h)
			cps, _ := figures(runs[n], "s"+h+"_cps")
			cpu, _ := figures(runs[n], "s"+h+"_cpu_us")
			var list []string
			for _, x := range cps {
				list = append(list, fmt.Sprintf("%.0f", x))
			}
			var hn float64
			fmt.Sscan(h, &hn)
			m := median(cps)
			if one == 0 {
				one = m / hn
			}
			fmt.Printf("| %s | %s | %.0f | %.0f | %.2f× | %.0f | %s |\n", n, h, m, m/hn, m/one, median(cpu), strings.Join(list, ", "))
		}
	}
}
