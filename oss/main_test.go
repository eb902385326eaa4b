package oss_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
)

func TestMain(m *testing.M) {
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
