package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the tour with a short load: three ossd processes, a
// SIGKILL of the bank's leader, a fourth node replacing it, and the
// checks of money and replicas.
func TestDemo(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	o := options{load: 2 * time.Second, workers: 2, accounts: 10, replaceAfter: 2 * time.Second, seed: 1}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := run(ctx, o, &out, false); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"failover:", "replacement: n4 is a voter", "conserved", "identical on", "OK"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("the tour's output lacks %q:\n%s", want, out.String())
		}
	}
}
