package ossdtest_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/objectsharing/oss/oss/ossdtest"
)

// ossdBin is ossd, built once by TestMain before any test's deadline
// starts.
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
	bin, remove, err := ossdtest.BuildForTests()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ossdBin = bin
	code := m.Run()
	remove()
	os.Exit(code)
}
