package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A put whose node was killed under it fails as "outcome unknown", and
// the CLI adds what it sees of the heap's voters. With one voter of three
// down the two live ones are a majority: nothing needs starting, and the
// message said "start at least 1 of n1 again", sending the user to bring
// back a node the heap does not need.
func TestQuorumAdviceWithAMajorityLive(t *testing.T) {
	for _, tc := range []struct {
		voters, live []string
		want, not    string
	}{
		{[]string{"n1", "n2", "n3"}, []string{"n2", "n3"}, "the 2 live ones are a majority of the 3", "start at least"},
		{[]string{"n1", "n2", "n3", "n4", "n5"}, []string{"n3", "n4", "n5"}, "the 3 live ones are a majority of the 5", "start at least"},
		{[]string{"n1", "n2", "n3"}, []string{"n3"}, "start at least 1 of n1, n2 again", "majority of the"},
		{[]string{"n1", "n2", "n3", "n4", "n5"}, []string{"n5"}, "start at least 2 of n1, n2, n3, n4 again", "majority of the"},
	} {
		got := adviceFor(t, tc.voters, tc.live, fmt.Errorf("no answer: %w", oss.ErrCommitUnknown))
		if !errors.Is(got, oss.ErrCommitUnknown) || !strings.Contains(got.Error(), tc.want) || strings.Contains(got.Error(), tc.not) {
			t.Errorf("voters %v, live %v: %v\nwant %q, not %q", tc.voters, tc.live, got, tc.want, tc.not)
		}
	}
}
