package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// A tour whose replicas do not reach the same index names the node
// behind and what its log last said went wrong: run with a TMPDIR that
// filled up, a node that could not write its log stayed behind, and the
// demo said only "replicas did not reach the same index: [{6604 feb6…}
// {6557 d677…} {6604 feb6…}] (<nil>)".
func TestReplicasBehindNameTheNodeAndItsError(t *testing.T) {
	t.Parallel()
	full := "time=2026-12-05T05:32:52.084Z level=ERROR msg=\"cannot write the log; commits fail until it can\" node=n2 " +
		"err=\"write n2/wal/0000000000000001.wal: no space left on device\""
	var live []*ossdtest.Proc
	for i, index := range []uint64{6604, 6557, 6604} {
		name := []string{"n1", "n2", "n4"}[i]
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(admin.Digest{Index: index, Digest: strings.Repeat("ab", 32)})
		}))
		defer srv.Close()
		c, err := admin.NewClient(strings.TrimPrefix(srv.URL, "http://"), &admin.ClientOptions{Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		log := filepath.Join(t.TempDir(), name+".log")
		text := "time=2026-12-05T05:32:50Z level=INFO msg=started node=" + name + "\n"
		if name == "n2" {
			text += full + "\n"
		}
		if err := os.WriteFile(log, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		live = append(live, &ossdtest.Proc{Name: name, Client: c, Log: log})
	}
	_, err := (&tour{live: live}).sameState(context.Background())
	if err == nil || !strings.Contains(err.Error(), "n2 at 6557") || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("replicas behind: %v, want n2 named with its log's error", err)
	}
	if strings.Count(err.Error(), "no space left") != 1 {
		t.Errorf("replicas behind: %v, want only n2's log quoted", err)
	}
}
