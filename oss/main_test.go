package oss_test

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

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
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
