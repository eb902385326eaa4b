package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

// A misspelled flag names the flag it is a slip away from; one far from
// every flag says where the flags are listed. flag.ErrHelp is left as it
// is (it makes "-h" exit 0).
func TestUnknownFlagNamesTheNearOne(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--listne", "127.0.0.1:7400"}, "did you mean --listen?"},
		{[]string{"run", "--data-dri", "d"}, "did you mean --data-dir?"},
		{[]string{"status", "--htpp", "x"}, "did you mean --http?"},
		{[]string{"run", "--frobnicate"}, `"ossd run -h" lists its flags`},
	} {
		err := dispatch(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "flag provided but not defined") {
			t.Errorf("ossd %v: %v, want %q", tc.args, err, tc.want)
		}
	}
	fs := flag.NewFlagSet("ossd run", flag.ContinueOnError)
	if err := withFlagHint(fs, flag.ErrHelp); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}
