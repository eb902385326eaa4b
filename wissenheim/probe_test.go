package main

import (
	"strings"
	"testing"
)

// An outsider's probe of the command line: numbers and names no run can
// use are refused at once, naming the flag, where they used to start a
// cluster that retried for ever (--port 70000, --heap oss:x) or bots that
// panicked (--bot-rate -1), or to be taken silently (--zoom 0).
func TestProbeOutOfRangeFlagsRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--port", "70000"}, "--port 70000"},
		{[]string{"--port", "-1"}, "--port -1"},
		{[]string{"--port", "65535", "--nodes", "3"}, "--port 65535"},
		{[]string{"--bot-rate", "-1"}, "--bot-rate"},
		{[]string{"--bot-rate", "0"}, "--bot-rate"},
		{[]string{"--bot-rate", "NaN"}, "--bot-rate"},
		{[]string{"--zoom", "0"}, "--zoom"},
		{[]string{"--zoom", "-3"}, "--zoom"},
		{[]string{"--fps", "-1"}, "--fps"},
		{[]string{"--frames", "-1"}, "--frames"},
		{[]string{"--heap", ""}, "--heap"},
		{[]string{"--heap", "oss:catalog"}, "--heap"},
	} {
		_, _, _, err := parseArgs(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("wissenheim %s: %v, want an error saying %q", strings.Join(c.args, " "), err, c.want)
		}
	}
	for _, args := range [][]string{
		nil,
		{"--port", "7450", "--nodes", "3"},
		{"--port", "65533", "--nodes", "3"},
		{"--bot-rate", "2", "--zoom", "10", "--fps", "60", "--frames", "100"},
	} {
		if _, _, _, err := parseArgs(args); err != nil {
			t.Errorf("wissenheim %s: %v", strings.Join(args, " "), err)
		}
	}
}
