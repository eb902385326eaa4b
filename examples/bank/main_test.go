package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestDemoConservesMoney(t *testing.T) {
	defer goleak.VerifyNone(t)
	var out bytes.Buffer
	o := options{duration: time.Second, workers: 16, accounts: 50, hot: 5, seed: 1}
	if err := run(context.Background(), o, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "OK: money is conserved") {
		t.Fatalf("summary:\n%s", out.String())
	}
}
