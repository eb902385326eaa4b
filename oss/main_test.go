package oss_test

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
)

// parallelTests is how many tests that call t.Parallel run at once when
// go test is not given -parallel (its default is GOMAXPROCS, 2 on the CI
// machine). The parallel tests are those that wait (on elections,
// failure detection, QUIC handshakes, disk syncs, other processes) far
// longer than they compute: under the race detector many used a tenth of
// a processor. They own their nodes, networks and data directories; their
// leaks are checked once, after the run. The tests that compute for most
// of their time stay serial: beside others they gain little, and their
// elections, on short ticks, are the first to fail when starved.
const parallelTests = 4

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		flag.Set("test.parallel", strconv.Itoa(max(parallelTests, runtime.GOMAXPROCS(0))))
	}
	code := m.Run()
	if s := oss.HarnessSummary(); s != "" {
		fmt.Println(s)
	}
	if code == 0 {
		if err := findLeaks(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// leakPatience is how long findLeaks gives goroutines to end. A node's
// Close waits for memberlist's probe under way by the clock (until the
// probe's stretched interval is over, membership.wait), not for its
// goroutine, which memberlist does not let anyone join: on a loaded
// machine that goroutine runs again only after goleak.Find's own retries
// (0.4 s) are over. One run of the package in three at load 20 found it
// then, blocked on its ack channel whose timer had fired.
const leakPatience = 10 * time.Second

// findLeaks is goleak.Find asked again until it finds nothing or
// leakPatience has passed: a goroutine that never ends is still found,
// and one that ended late is named on stderr.
func findLeaks() error {
	start := time.Now()
	for i := 0; ; i++ {
		err := goleak.Find()
		if err == nil || time.Since(start) > leakPatience {
			return err
		}
		if i == 0 {
			fmt.Fprintf(os.Stderr, "goleak: goroutines still running after the tests, asking again: %v\n", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
