package persist

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine of the log or the
// store (the log's writer, a stripe's writer, a view's reader) outlives
// the tests: each stops on its owner's Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
