package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A voter shown as NAME/RAFTID is a node's former incarnation: the raft
// ID it ran under before it lost its data and joined again under a new
// one. Nothing can start it. The no-quorum advice told the user to
// "start at least 1 of n1, n3/… again", and with n1 and such an ID down
// of three it named the one that cannot come back.
func TestQuorumAdviceLeavesOutFormerIncarnations(t *testing.T) {
	const former = "n3/5f808e1c438737c1"
	for _, tc := range []struct {
		voters, live []string
		want, not    []string
	}{
		{[]string{"n1", "n2", former}, []string{"n2"},
			[]string{"start at least 1 of n1 again", former + " ran under a raft ID its node no longer has"},
			[]string{"of n1, " + former}},
		{[]string{"n1", "n2/0000000000000001", former}, []string{"n1"},
			[]string{"too few of the others can be started again"},
			[]string{"start at least"}},
	} {
		got := adviceFor(t, tc.voters, tc.live, fmt.Errorf("no answer: %w", oss.ErrNoQuorum))
		if !errors.Is(got, oss.ErrNoQuorum) {
			t.Errorf("voters %v: %v, want ErrNoQuorum", tc.voters, got)
		}
		for _, w := range tc.want {
			if !strings.Contains(got.Error(), w) {
				t.Errorf("voters %v, live %v: %v\nwant %q", tc.voters, tc.live, got, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got.Error(), n) {
				t.Errorf("voters %v, live %v: %v\nwant no %q", tc.voters, tc.live, got, n)
			}
		}
	}
}

// adviceFor returns explainNoQuorum's answer to err for heap "h" whose
// voters are voters, from a node whose status lists live as members.
func adviceFor(t *testing.T, voters, live []string, err error) error {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := oss.ClusterStatus{Node: live[0], Heaps: []oss.HeapStatus{{Name: "h", Voters: voters}}}
		for _, m := range live {
			st.Members = append(st.Members, oss.Member{Name: m})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
	}))
	defer srv.Close()
	c, cerr := admin.NewClient(strings.TrimPrefix(srv.URL, "http://"), &admin.ClientOptions{Insecure: true})
	if cerr != nil {
		t.Fatal(cerr)
	}
	defer c.Close()
	return explainNoQuorum(c, "h", err)
}
