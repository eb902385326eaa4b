package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// damagedAdmin answers every request as the admin interface of a node
// whose catalog replica is lost does: 503, X-Oss-Node-State: damaged.
func damagedAdmin(t *testing.T, name string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Oss-Node-State", "damaged")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"error": "oss: the node's data is damaged: node \"" + name + "\" cannot use the catalog"})
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// "ossd put", "get" and "heaps" given --http DAMAGED,HEALTHY are served by
// the healthy node; given only damaged nodes, they fail naming each.
func TestCLIGoesPastADamagedNode(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	bad := damagedAdmin(t, "n1")
	flags := []string{"--http", bad + "," + srv.Addr(), "--http-insecure"}

	var out bytes.Buffer
	if err := putFrom(strings.NewReader(""), &out, append([]string{"h", "r", "7"}, flags...)); err != nil {
		t.Fatalf("put through a list whose first node is damaged: %v", err)
	}
	out.Reset()
	if err := heapsTo(&out, append([]string{"--json"}, flags...)); err != nil || !strings.Contains(out.String(), `"h"`) {
		t.Fatalf("heaps through a list whose first node is damaged: %v\n%s", err, out.String())
	}

	bad2 := damagedAdmin(t, "n2")
	err = putFrom(strings.NewReader(""), &out, []string{"h", "r", "8", "--http", bad + "," + bad2, "--http-insecure"})
	if err == nil || !strings.Contains(err.Error(), bad+" is damaged") || !strings.Contains(err.Error(), bad2+" is damaged") ||
		!strings.Contains(err.Error(), `node "n2" cannot use the catalog`) {
		t.Fatalf("put to damaged nodes only: %v; want each named, damaged", err)
	}
}
