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
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st := oss.ClusterStatus{Node: tc.live[0], Heaps: []oss.HeapStatus{{Name: "h", Voters: tc.voters}}}
			for _, m := range tc.live {
				st.Members = append(st.Members, oss.Member{Name: m})
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(st)
		}))
		c, err := admin.NewClient(strings.TrimPrefix(srv.URL, "http://"), &admin.ClientOptions{Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		got := explainNoQuorum(c, "h", fmt.Errorf("no answer: %w", oss.ErrCommitUnknown))
		c.Close()
		srv.Close()
		if !errors.Is(got, oss.ErrCommitUnknown) || !strings.Contains(got.Error(), tc.want) || strings.Contains(got.Error(), tc.not) {
			t.Errorf("voters %v, live %v: %v\nwant %q, not %q", tc.voters, tc.live, got, tc.want, tc.not)
		}
	}
}
