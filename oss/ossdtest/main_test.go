package ossdtest_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss/ossdtest"
)

// ossdBin is ossd, built once by TestMain before any test's deadline
// starts.
//
// The churn tests run in parallel (t.Parallel): each has its own
// directory, ports (ossdtest hands a port out once per process) and
// processes, and most of its time is spent waiting for them, so four run
// at once (ossdtest.ProcessTestsInParallel). The nemesis harnesses
// (TestOssdHarness, TestOssdPartitions, TestOssdRemovalsThroughPartitions)
// stay serial, and go test runs them first: each runs its faults for a
// few seconds and requires 20 commits in them, which four clusters at
// once on a loaded machine did not always leave it (10 at load 36).
// The tests leave no goroutine behind: TestMain checks once they are all
// done, as a check per test would see the others' goroutines.
var ossdBin string

// starterEnv, set, makes this process TestNodesDieWithTheirStarter's
// starter: it starts a node in the directory the variable names, says
// so, and waits to be killed.
const starterEnv = "OSSDTEST_STARTER_DIR"

func TestMain(m *testing.M) {
	if os.Getenv(starterEnv) != "" { // TestNodesDieWithTheirStarter's starter, which is killed: its parent built ossd
		ossdBin = os.Getenv("OSSDTEST_BIN")
		os.Exit(m.Run())
	}
	ossdtest.ProcessTestsInParallel(4)
	bin, remove, err := ossdtest.BuildForTests()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ossdBin = bin
	code := m.Run()
	remove()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "the tests left goroutines behind (their workloads, proxies, clients): %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
