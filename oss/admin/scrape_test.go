package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"go.uber.org/goleak"
)

// A scrape is one answer of /metrics in the Prometheus text format: each
// sample's value by its series, the metric's name and its labels in the
// canonical form series makes.
type scrape map[string]float64

// series is the canonical key of a sample: name{k="v",…}, labels sorted.
func series(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%s", k, strconv.Quote(labels[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// parseMetrics parses the Prometheus text exposition format (version
// 0.0.4): comments and blank lines skipped, each sample a name, optional
// labels in braces, a value and an optional timestamp.
func parseMetrics(r io.Reader) (scrape, error) {
	s := scrape{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		labels := map[string]string{}
		if strings.HasPrefix(rest, "{") {
			rest = rest[1:]
			for {
				rest = strings.TrimLeft(rest, " ,")
				if strings.HasPrefix(rest, "}") {
					rest = rest[1:]
					break
				}
				eq := strings.IndexByte(rest, '=')
				if eq <= 0 || len(rest) < eq+2 || rest[eq+1] != '"' {
					return nil, fmt.Errorf("bad labels in %q", line)
				}
				k := strings.TrimSpace(rest[:eq])
				// The quoted value ends at the first unescaped quote.
				end := eq + 2
				for end < len(rest) && rest[end] != '"' {
					if rest[end] == '\\' {
						end++
					}
					end++
				}
				if end >= len(rest) {
					return nil, fmt.Errorf("unterminated label value in %q", line)
				}
				v, err := strconv.Unquote(rest[eq+1 : end+1])
				if err != nil {
					return nil, fmt.Errorf("label value in %q: %v", line, err)
				}
				labels[k] = v
				rest = rest[end+1:]
			}
		}
		fields := strings.Fields(rest)
		if len(fields) < 1 || len(fields) > 2 {
			return nil, fmt.Errorf("bad sample %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("value of %q: %v", line, err)
		}
		s[series(name, labels)] = v
	}
	return s, sc.Err()
}

func TestParseMetrics(t *testing.T) {
	s, err := parseMetrics(strings.NewReader(`# HELP a_total A.
# TYPE a_total counter
a_total{node="n1",heap="h"} 3
b 1.5e+06
c{x="q\"u,o}te\\"} +Inf
d{} 2 1700000000000
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 4 || s[`a_total{heap="h",node="n1"}`] != 3 || s["b"] != 1.5e6 || s["d"] != 2 || !math.IsInf(s[series("c", map[string]string{"x": `q"u,o}te\`})], 1) {
		t.Fatalf("parsed %v", s)
	}
	for _, bad := range []string{"x{a=1} 2", `x{a="1} 2`, "x", "x y", "x 1 2 3"} {
		if _, err := parseMetrics(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// members are the servers named, as placement ranks them.
func members(names []string) []engine.Member {
	ms := make([]engine.Member, len(names))
	for i, name := range names {
		ms[i] = engine.Member{Name: name, Server: true}
	}
	return ms
}

// scrapeNode GETs /metrics of an admin server over HTTP and parses it.
func scrapeNode(hc *http.Client, srv *admin.Server) (scrape, error) {
	resp, err := hc.Get(srv.URL() + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET /metrics: %s: %s", resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		return nil, fmt.Errorf("GET /metrics: Content-Type %q", ct)
	}
	return parseMetrics(resp.Body)
}

// hotOf GETs /v1/heaps/{heap}/hot of an admin server over HTTP.
func hotOf(hc *http.Client, srv *admin.Server, heap string) (admin.Hot, error) {
	var hot admin.Hot
	resp, err := hc.Get(srv.URL() + "/v1/heaps/" + heap + "/hot")
	if err != nil {
		return hot, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return hot, fmt.Errorf("GET hot: %s: %s", resp.Status, b)
	}
	return hot, json.NewDecoder(resp.Body).Decode(&hot)
}

// TestMetricsScrapedUnderLoad scrapes /metrics over HTTP from the admin
// interfaces of a 3-node cluster under load, and checks that the values
// move as they must: every node's commits rise; a conflict workload
// raises oss_conflicts_total, raises oss_hot_conflicts on every replica
// and puts the hot object first in every node's /v1/heaps/{heap}/hot; a
// killed leader raises oss_leader_changes_total on the survivors, which
// elect one of their own and go on committing.
func TestMetricsScrapedUnderLoad(t *testing.T) {
	// Registered first, so it runs last: after every node and server of
	// the test closed.
	t.Cleanup(func() { goleak.VerifyNone(t) })
	names := []string{"s1", "s2", "s3"}
	nodes := startCluster(t, names...)
	ctx := context.Background()
	const heap = "scraped"
	if _, err := nodes[0].CreateHeap(ctx, heap, &oss.HeapOptions{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	heaps := make([]*oss.Heap, len(nodes))
	srvs := make([]*admin.Server, len(nodes))
	for i, n := range nodes {
		h, err := n.Heap(ctx, heap)
		if err != nil {
			t.Fatal(err)
		}
		heaps[i] = h
		srvs[i] = serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)

	// sample scrapes node i and returns the value of a per-heap metric,
	// failing the test if the scrape fails or lacks it.
	sample := func(i int, name string) float64 {
		t.Helper()
		s, err := scrapeNode(hc, srvs[i])
		if err != nil {
			t.Fatalf("scraping %s: %v", names[i], err)
		}
		k := series(name, map[string]string{"heap": heap, "node": names[i]})
		v, ok := s[k]
		if !ok {
			t.Fatalf("%s's /metrics lacks %s", names[i], k)
		}
		return v
	}
	// waitFor polls cond until it holds, failing the test after timeout
	// with what describe says. The waits get 5 minutes, as oss/osstest's
	// do: a bound against a hang, far over what load 40 takes.
	waitFor := func(what string, timeout time.Duration, cond func() bool, describe func() string) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("waiting %v for %s: %s", timeout, what, describe())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// The load: a worker on every node writes objects of its own, which
	// never conflict. It stops at the end of the test, before the nodes
	// close; errors (the killed node's) only slow it down.
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	t.Cleanup(stopLoad)
	for i, h := range heaps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for k := 0; loadCtx.Err() == nil; k++ {
				h.Update(loadCtx, func(tx *oss.Tx) error {
					_, err := oss.New(tx, fmt.Sprintf("record %d of %s", k, names[i]))
					return err
				})
				select {
				case <-tick.C:
				case <-loadCtx.Done():
				}
			}
		}()
	}

	// Commits rise on every node.
	for i := range nodes {
		first := sample(i, "oss_commits_total")
		var now float64
		waitFor(names[i]+"'s commits to rise", 5*time.Minute, func() bool {
			now = sample(i, "oss_commits_total")
			return now >= first+20
		}, func() string { return fmt.Sprintf("oss_commits_total %v, then %v", first, now) })
		t.Logf("%s: oss_commits_total %v → %v", names[i], first, now)
	}

	// The conflict workload, run on s2: transactions that read an object
	// lose to a commit that wrote it meanwhile, 20 times on the hot
	// object, 3 on a colder one.
	hot, cold := uuid.New(), uuid.New()
	for _, id := range []uuid.UUID{hot, cold} {
		if err := heaps[1].Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, id, 0) }); err != nil {
			t.Fatal(err)
		}
	}
	conflictsBefore := sample(1, "oss_conflicts_total")
	hotBefore := make([]float64, len(nodes))
	for i := range nodes {
		hotBefore[i] = sample(i, "oss_hot_conflicts")
	}
	const hotN, coldN = 20, 3
	conflictOn(t, heaps[1], hot, "hotspot", hotN)
	conflictOn(t, heaps[1], cold, "coldspot", coldN)
	if got := sample(1, "oss_conflicts_total"); got < conflictsBefore+hotN+coldN {
		t.Fatalf("s2's oss_conflicts_total %v after %d conflicts; it was %v", got, hotN+coldN, conflictsBefore)
	} else {
		t.Logf("s2: oss_conflicts_total %v → %v", conflictsBefore, got)
	}
	// Every replica decides every commit record, so every node sees the
	// conflicts: its gauge of the hottest key rises, and its hot list
	// has the hot object first.
	for i := range nodes {
		var g float64
		waitFor(names[i]+"'s oss_hot_conflicts to rise", 5*time.Minute, func() bool {
			g = sample(i, "oss_hot_conflicts")
			// 20 conflicts of the last seconds, decayed by a half-life of
			// a minute, weigh well over 15.
			return g > hotBefore[i] && g >= 15
		}, func() string { return fmt.Sprintf("oss_hot_conflicts %v, was %v", g, hotBefore[i]) })
		// The replica applies the cold object's conflicts after the hot
		// one's: its list has the hot object first before it has the
		// cold one's third (seen at load 50 to 80).
		var h admin.Hot
		var err error
		waitFor(names[i]+"'s hot list to show the hot object first, and the cold one", 5*time.Minute, func() bool {
			h, err = hotOf(hc, srvs[i], heap)
			return err == nil && len(h.Objects) >= 2 && h.Objects[0].ID == hot && h.Objects[0].Conflicts >= hotN &&
				slices.ContainsFunc(h.Objects[1:], func(o oss.HotObject) bool { return o.ID == cold && o.Conflicts >= coldN })
		}, func() string { return fmt.Sprintf("%+v, %v", h, err) })
		top := h.Objects[0]
		// The gauge is the hottest key's Lately: read a moment later, it
		// has only decayed a little.
		if g = sample(i, "oss_hot_conflicts"); g > top.Lately+1e-9 || g < 0.9*top.Lately {
			t.Errorf("%s: oss_hot_conflicts %v, the hottest key's Lately a moment before %v", names[i], g, top.Lately)
		}
		t.Logf("%s: oss_hot_conflicts %.2f; hottest %s, %d conflicts, %.2f lately", names[i], g, top.Name(), top.Conflicts, top.Lately)
	}

	// Kill the leader: close it at once, as a crash would for its peers
	// (a Close whose context has ended hands nothing over). The leader
	// killed is the one placement puts on these nodes (engine.Rank's
	// first): placement moves leadership there once the replicas have
	// ticked engine.TransferTicks (5 s at the 100 ms ticks), and a leader
	// seen earlier could hand over to a survivor before the kill, which
	// then saw no change after it. The survivors' counters are read
	// before the leader is checked, so a change after the check counts.
	li := slices.Index(names, engine.Rank(heap, members(names))[0].Name)
	var survivors []int
	changesBefore := map[int]float64{}
	commitsBefore := map[int]float64{}
	seen := make([]string, len(heaps))
	waitFor(names[li]+" to lead, as every replica sees", 5*time.Minute, func() bool {
		survivors = survivors[:0]
		for i := range nodes {
			if i != li {
				survivors = append(survivors, i)
				changesBefore[i] = sample(i, "oss_leader_changes_total")
				commitsBefore[i] = sample(i, "oss_commits_total")
			}
		}
		agreed := sample(li, "oss_is_leader") == 1
		for i, h := range heaps {
			seen[i] = h.Stats().Leader
			agreed = agreed && seen[i] == names[li]
		}
		return agreed
	}, func() string { return fmt.Sprintf("leaders seen by %v: %v", names, seen) })
	leader := names[li]
	dead, cancel := context.WithCancel(ctx)
	cancel()
	killed := time.Now()
	nodes[li].Close(dead) // returns dead's error: it did not wait
	t.Logf("killed the leader %s", leader)

	for _, i := range survivors {
		var c float64
		waitFor(names[i]+"'s oss_leader_changes_total to rise", 5*time.Minute, func() bool {
			c = sample(i, "oss_leader_changes_total")
			return c > changesBefore[i]
		}, func() string { return fmt.Sprintf("oss_leader_changes_total %v, was %v", c, changesBefore[i]) })
		t.Logf("%s: oss_leader_changes_total %v → %v, %v after the kill", names[i], changesBefore[i], c, time.Since(killed).Round(time.Millisecond))
	}
	// One survivor leads, as both survivors' metrics say, and commits go on.
	var leads []float64
	waitFor("one survivor to lead", 5*time.Minute, func() bool {
		leads = leads[:0]
		sum := 0.0
		for _, i := range survivors {
			v := sample(i, "oss_is_leader")
			leads = append(leads, v)
			sum += v
		}
		return sum == 1
	}, func() string { return fmt.Sprintf("oss_is_leader of %v: %v", survivors, leads) })
	for _, i := range survivors {
		var now float64
		waitFor(names[i]+"'s commits to rise after the kill", 5*time.Minute, func() bool {
			now = sample(i, "oss_commits_total")
			return now >= commitsBefore[i]+10
		}, func() string { return fmt.Sprintf("oss_commits_total %v, was %v", now, commitsBefore[i]) })
	}
}
