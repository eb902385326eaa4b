package main

import (
	"slices"
	"testing"
)

// "--" ends the flags: every word after it is an argument, a heap or root
// whose name begins with "-" too. Only the first word after it was: the
// rest were parsed as flags again, so "ossd put -- -h -r 1" failed with
// "flag provided but not defined: -r", and "ossd put h -- r 1 --http
// ADDR" dialled ADDR.
func TestDoubleDashEndsTheFlags(t *testing.T) {
	for _, c := range []struct {
		args, want []string
		http       string
	}{
		{[]string{"--", "-h", "-r", "1"}, []string{"-h", "-r", "1"}, "127.0.0.1:7480"},
		{[]string{"h", "--", "r", "1", "--http", "x:1"}, []string{"h", "r", "1", "--http", "x:1"}, "127.0.0.1:7480"},
		{[]string{"--http", "x:1", "h", "--", "-r", "-5"}, []string{"h", "-r", "-5"}, "x:1"},
		{[]string{"h", "r", "-5", "--http", "x:1"}, []string{"h", "r", "-5"}, "x:1"},
	} {
		fs, _ := clientFlags("ossd put")
		pos, err := parse(fs, c.args)
		if err != nil || !slices.Equal(pos, c.want) || fs.Lookup("http").Value.String() != c.http {
			t.Errorf("%q: %q, --http %s, %v; want %q, --http %s", c.args, pos, fs.Lookup("http").Value, err, c.want, c.http)
		}
	}
}
