package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A write whose outcome is unknown is told to be read back before it is
// tried again, in every branch of the no-quorum advice: it was told "an
// election may be under way; try again", and then, by the line the CLI
// adds, to read it back first.
func TestUnknownOutcomeNeverToldToTryAgain(t *testing.T) {
	unknown := func(msg string) error { return fmt.Errorf("%s: %w", msg, oss.ErrCommitUnknown) }
	for _, tc := range []struct {
		voters, live []string
		err          error
	}{
		{[]string{"n1", "n2", "n3"}, []string{"n1", "n2", "n3"}, unknown("no decision in time")},
		{[]string{"n1", "n2", "n3"}, []string{"n1", "n2"}, unknown("no decision in time")},
		{[]string{"n1", "n2", "n3"}, []string{"n1"}, unknown("no decision in time")},
		{[]string{"n1", "n2/0000000000000001", "n3/0000000000000002"}, []string{"n1"}, unknown("no decision in time")},
		{[]string{"n1"}, []string{"n1"}, unknown("the node's write-ahead log is gone")},
		{[]string{"n1"}, []string{"n1"}, unknown("the log cannot be written")},
		{[]string{"n1"}, []string{"n1"}, unknown("the replica cannot write its log")},
	} {
		got := adviceFor(t, tc.voters, tc.live, tc.err).Error()
		if strings.Contains(got, "; try again") {
			t.Errorf("voters %v, live %v: %s\nis told to try again", tc.voters, tc.live, got)
		}
		for _, want := range []string{unknownPhrase, "ossd get h ROOT --fresh", "before trying again"} {
			if !strings.Contains(got, want) {
				t.Errorf("voters %v, live %v: %s\nwant %q", tc.voters, tc.live, got, want)
			}
		}
		// The CLI adds no second advice of its own.
		if again := outcomeUnknown(errors.New(got), "ossd get h ROOT --fresh").Error(); again != got {
			t.Errorf("advice added twice: %s", again)
		}
	}
	// A heap short of a quorum, whose write was not carried out, is still
	// told to try again.
	got := adviceFor(t, []string{"n1", "n2", "n3"}, []string{"n1", "n2", "n3"}, fmt.Errorf("x: %w", oss.ErrNoQuorum)).Error()
	if !strings.Contains(got, "; try again") || strings.Contains(got, unknownPhrase) {
		t.Errorf("no quorum: %s", got)
	}
}

// The advice to read a write back comes with the commands that write,
// each naming the command that reads it, and with no other: it was added
// to every command's error in main, "ossd run" included.
func TestUnknownOutcomeAdviceOnlyForWrites(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusGatewayTimeout)
		json.NewEncoder(w).Encode(map[string]string{"Error": "oss: commit outcome unknown: no decision in time"})
	}))
	defer srv.Close()
	flags := []string{"--http", strings.TrimPrefix(srv.URL, "http://"), "--http-insecure"}
	var out bytes.Buffer
	for _, tc := range []struct {
		args     []string
		readBack string // "" for a command that writes nothing
	}{
		{[]string{"heaps", "create", "h"}, "ossd heaps"},
		{[]string{"heaps", "drop", "h"}, "ossd heaps"},
		{[]string{"acl", "grant", "--to", "ann", "--heap", "h", "--perm", "read"}, "ossd acl list"},
		{[]string{"acl", "revoke", "--to", "ann", "--heap", "h", "--perm", "read"}, "ossd acl list"},
		{[]string{"cert", "revoke", "ann", "--unlisted"}, "ossd cert revocations"},
		{[]string{"heaps"}, ""},
		{[]string{"acl", "list"}, ""},
	} {
		var err error
		switch cmd := tc.args[0]; {
		case cmd == "heaps":
			err = heapsTo(&out, append(tc.args[1:], flags...))
		case cmd == "acl":
			err = aclTo(&out, append(tc.args[1:], flags...))
		default:
			err = dispatch(append(tc.args, flags...))
		}
		if !errors.Is(err, oss.ErrCommitUnknown) {
			t.Fatalf("%v: %v, want ErrCommitUnknown", tc.args, err)
		}
		said := strings.Contains(err.Error(), unknownPhrase)
		if tc.readBack == "" && said {
			t.Errorf("%v, which writes nothing: %v", tc.args, err)
		}
		if tc.readBack != "" && (!said || !strings.Contains(err.Error(), "read it back ("+tc.readBack+")")) {
			t.Errorf("%v: %v\nwant the advice to read it back with %s", tc.args, err, tc.readBack)
		}
	}
}
