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

func TestMain(m *testing.M) {
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
