package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// The progress line names the bank's leader as the nodes report it now:
// it named the leader seen when the heap was created, so "leader n2"
// stood in every line until the demo said "SIGKILL n1, the bank's
// leader" (the cluster had moved the leadership to n1 meanwhile).
func TestProgressNamesTheCurrentLeader(t *testing.T) {
	c := statusServer(t, "n1")
	out := &lockedBuffer{} // leaderline_test.go
	procs := []*ossdtest.Proc{{Name: "n1", Client: c}, {Name: "n2", Client: c}, {Name: "n3", Client: c}}
	tr := &tour{out: out, tty: true, live: procs, leader: "n2"}
	if s := firstProgress(t, tr, out); !strings.Contains(s, "leader n1") {
		t.Errorf("the progress line does not name n1, the leader the nodes report: %q", s)
	}
}

// statusServer returns a client of an admin interface whose status names
// leader as the bank's.
func statusServer(t *testing.T, leader string) *admin.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := oss.ClusterStatus{Node: "n3", Heaps: []oss.HeapStatus{{Name: heap, Leader: leader, Voters: []string{"n1", "n2", "n3"}}}}
		_ = json.NewEncoder(w).Encode(st)
	}))
	t.Cleanup(srv.Close)
	c, err := admin.NewClient(strings.TrimPrefix(srv.URL, "http://"), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
