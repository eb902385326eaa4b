package main

import (
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// ossd run hands --http-max-conns and --http-max-conns-per-identity to
// the admin interface, and refuses counts that are not positive (a zero
// share is the default, half of --http-max-conns), naming the flag.
func TestRunTakesConnectionLimits(t *testing.T) {
	var f runFlags
	if err := f.parse(strings.Fields("--http-max-conns 8 --http-max-conns-per-identity 3")); err != nil {
		t.Fatal(err)
	}
	o := f.adminOptions(&oss.TLSConfig{}, nil, nil)
	if o.MaxConns != 8 || o.MaxConnsPerIdentity != 3 {
		t.Fatalf("the admin options: MaxConns %d, MaxConnsPerIdentity %d; want 8 and 3", o.MaxConns, o.MaxConnsPerIdentity)
	}
	for _, args := range []string{"--http-max-conns 0", "--http-max-conns -1", "--http-max-conns-per-identity -1"} {
		var f runFlags
		err := f.parse(strings.Fields(args))
		if flag := strings.Fields(args)[0]; err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("run %s: %v, want an error naming %s", args, err, flag)
		}
	}
}
