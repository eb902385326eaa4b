package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// BenchmarkStatusFlood runs three ossd processes on loopback (durability
// sync) and one writer committing puts, one at a time, through n1's
// admin interface as the operator "admin", for floodWindow: alone, then
// while the client certificate "flood" asks n1 for GET /v1/status from
// floodConns connections as fast as they are answered, then the same
// with GET /v1/heaps (a cheap request, one token). It reports the
// writer's commits a second, and the flood's requests a second served
// and refused. OSS_BENCH_RUN_FLAGS adds flags to every "ossd run" (e.g.
// "--http-rate inf"). docs/design.md, "Admin interface security", has
// the figures.
//
//	go test ./cmd/ossd -run '^$' -bench StatusFlood -benchtime 1x -count 3
func BenchmarkStatusFlood(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := ossdtest.New(ctx, b.TempDir(), ossdBin)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.Flags = append([]string{"--gossip", "loopback"}, strings.Fields(os.Getenv("OSS_BENCH_RUN_FLAGS"))...)
	if out, err := exec.CommandContext(ctx, ossdBin, "cert", "issue", "--dir", c.Certs(), "--name", "flood", "--role", "admin").CombinedOutput(); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	n1, err := c.Start(ctx, "n1")
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"n2", "n3"} {
		if _, err := c.Start(ctx, name, n1); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := n1.PutRoot(ctx, "bench", "k", 0); err != nil {
		b.Fatal(err)
	}
	for _, flood := range []string{"", "/v1/status", "/v1/heaps"} {
		name := "flood=none"
		if flood != "" {
			name = "flood=" + strings.TrimPrefix(flood, "/v1/")
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				commits, served, refused := floodWhileWriting(ctx, b, c, n1, flood)
				secs := floodWindow.Seconds()
				b.ReportMetric(float64(commits)/secs, "commits/s")
				b.ReportMetric(float64(served)/secs, "flood-served/s")
				b.ReportMetric(float64(refused)/secs, "flood-429/s")
			}
		})
	}
}

const (
	floodWindow = 5 * time.Second
	floodConns  = 32
)

// floodWhileWriting commits puts through n1 for floodWindow, with the
// flood of GETs of the path flood beside (none if ""), and returns the commits and the flood's
// requests served and refused with 429.
func floodWhileWriting(ctx context.Context, b *testing.B, c *ossdtest.Cluster, n1 *ossdtest.Proc, flood string) (commits int, served, refused int64) {
	wctx, stop := context.WithTimeout(ctx, floodWindow)
	defer stop()
	var wg sync.WaitGroup
	var ok, limited atomic.Int64
	if flood != "" {
		tlsc, err := admin.LoadClientTLS(c.Certs(), "flood")
		if err != nil {
			b.Fatal(err)
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsc, MaxIdleConnsPerHost: floodConns}}
		defer hc.CloseIdleConnections()
		for range floodConns {
			wg.Go(func() { floodGet(wctx, hc, "https://"+n1.HTTP+flood, &ok, &limited) })
		}
	}
	for wctx.Err() == nil {
		if _, err := n1.PutRoot(wctx, "bench", "k", commits); err == nil {
			commits++
		}
	}
	wg.Wait()
	return commits, ok.Load(), limited.Load()
}

// floodGet GETs url until ctx ends, counting the answers 200 and 429.
func floodGet(ctx context.Context, hc *http.Client, url string, ok, limited *atomic.Int64) {
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := hc.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			ok.Add(1)
		case http.StatusTooManyRequests:
			limited.Add(1)
		}
	}
}
