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

// A put the node's own log refused (a full disk) is not explained as an
// election: every voter is live, and the cause is the node's disk.
func TestQuorumAdviceNamesTheNodesDisk(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := oss.ClusterStatus{Node: "n1", Heaps: []oss.HeapStatus{{Name: "h", Voters: []string{"n1", "n2", "n3"}}}}
		for _, m := range []string{"n1", "n2", "n3"} {
			st.Members = append(st.Members, oss.Member{Name: m})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
	}))
	defer srv.Close()
	c, err := admin.NewClient(strings.TrimPrefix(srv.URL, "http://"), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	disk := fmt.Errorf(`%w: oss: heap "h": the log cannot be written: write /d/wal/0.wal: no space left on device`, oss.ErrCommitUnknown)
	got := explainNoQuorum(c, "h", disk)
	if !errors.Is(got, oss.ErrCommitUnknown) || !strings.Contains(got.Error(), "its disk") || strings.Contains(got.Error(), "election") {
		t.Errorf("a write the node's log refused: %v\nwant the disk named, no election", got)
	}
	other := fmt.Errorf("no answer: %w", oss.ErrCommitUnknown)
	if got := explainNoQuorum(c, "h", other); !strings.Contains(got.Error(), "election") {
		t.Errorf("an unknown outcome with every voter live: %v\nwant the election hint", got)
	}
}
