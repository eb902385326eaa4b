package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
)

// etcdCluster is three embedded etcd members in this process, with mutual
// TLS between peers and towards clients, each with its WAL in its own
// directory (fsynced as etcd does by default).
type etcdCluster struct {
	members  []*embed.Etcd
	inproc   []*clientv3.Client // v3client.New: no network, no TLS
	urls     []string           // client URLs
	certsDir string
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ps []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ps = append(ps, l.Addr().(*net.TCPAddr).Port)
	}
	return ps, nil
}

func startEtcd(dir, certsDir string) (*etcdCluster, error) {
	ports, err := freePorts(2 * len(members))
	if err != nil {
		return nil, err
	}
	peer := func(i int) url.URL { return url.URL{Scheme: "https", Host: fmt.Sprintf("127.0.0.1:%d", ports[2*i])} }
	client := func(i int) url.URL { return url.URL{Scheme: "https", Host: fmt.Sprintf("127.0.0.1:%d", ports[2*i+1])} }
	var initial []string
	for i, m := range members {
		u := peer(i)
		initial = append(initial, m+"="+u.String())
	}
	c := &etcdCluster{certsDir: certsDir}
	for i, m := range members {
		tlsInfo := transport.TLSInfo{
			CertFile:       filepath.Join(certsDir, m+"-etcd.pem"),
			KeyFile:        filepath.Join(certsDir, m+"-etcd.key"),
			TrustedCAFile:  filepath.Join(certsDir, "ca.pem"),
			ClientCertAuth: true,
		}
		cfg := embed.NewConfig()
		cfg.Name = m
		cfg.Dir = filepath.Join(dir, m)
		cfg.ListenPeerUrls = []url.URL{peer(i)}
		cfg.AdvertisePeerUrls = []url.URL{peer(i)}
		cfg.ListenClientUrls = []url.URL{client(i)}
		cfg.AdvertiseClientUrls = []url.URL{client(i)}
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = "bench"
		cfg.ClusterState = embed.ClusterStateFlagNew
		cfg.ClientTLSInfo = tlsInfo
		cfg.PeerTLSInfo = tlsInfo
		cfg.Logger = "zap"
		cfg.LogLevel = "error"
		cfg.LogOutputs = []string{"stderr"}
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("etcd %s: %w", m, err)
		}
		c.members = append(c.members, e)
		u := client(i)
		c.urls = append(c.urls, u.String())
	}
	for _, e := range c.members {
		select {
		case <-e.Server.ReadyNotify():
		case err := <-e.Err():
			c.close()
			return nil, err
		case <-time.After(60 * time.Second):
			c.close()
			return nil, errors.New("etcd: members not ready in 60s")
		}
		c.inproc = append(c.inproc, v3client.New(e.Server))
	}
	return c, nil
}

func (c *etcdCluster) close() {
	for _, cl := range c.inproc {
		cl.Close()
	}
	for _, e := range c.members {
		e.Close()
	}
}

// leader is the index of the member that leads, -1 if none does.
func (c *etcdCluster) leader() int {
	for i, e := range c.members {
		if e.Server.Leader() == e.Server.MemberID() {
			return i
		}
	}
	return -1
}

// grpc returns a client over gRPC with mutual TLS to the given members'
// client URLs: etcd's natural client.
func (c *etcdCluster) grpc(idx ...int) (*clientv3.Client, error) {
	tlsInfo := transport.TLSInfo{
		CertFile:      filepath.Join(c.certsDir, "m0-etcd.pem"),
		KeyFile:       filepath.Join(c.certsDir, "m0-etcd.key"),
		TrustedCAFile: filepath.Join(c.certsDir, "ca.pem"),
	}
	tc, err := tlsInfo.ClientConfig()
	if err != nil {
		return nil, err
	}
	var eps []string
	for _, i := range idx {
		eps = append(eps, c.urls[i])
	}
	return clientv3.New(clientv3.Config{Endpoints: eps, TLS: tc, DialTimeout: 10 * time.Second})
}

func etcdKey(i int) string { return fmt.Sprintf("k%07d", i) }

// etcdRMW reads key (serializable: from the member's local state, as an
// OSS Update reads its local snapshot) and writes it back incremented in
// a transaction that compares the key's mod revision; a failed compare
// returns the current value (the Else branch), which the retry starts
// from. It returns the retries.
func etcdRMW(ctx context.Context, kv clientv3.KV, key string) (int, error) {
	r, err := kv.Get(ctx, key, clientv3.WithSerializable())
	if err != nil {
		return 0, err
	}
	kvs := r.Kvs
	for retries := 0; ; retries++ {
		var val []byte
		var rev int64
		if len(kvs) > 0 {
			val, rev = kvs[0].Value, kvs[0].ModRevision
		}
		t, err := kv.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, string(bump(val)))).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return retries, err
		}
		if t.Succeeded {
			return retries, nil
		}
		kvs = t.Responses[0].GetResponseRange().Kvs
	}
}

func runEtcd(p params, dir, certsDir string) (*result, error) {
	ctx := context.Background()
	res := &result{System: "etcd", Metrics: map[string]float64{}}
	m := res.Metrics
	c, err := startEtcd(dir, certsDir)
	if err != nil {
		return nil, err
	}
	defer c.close()
	lead := -1
	for deadline := time.Now().Add(30 * time.Second); lead < 0; {
		if time.Now().After(deadline) {
			return nil, errors.New("etcd: no leader in 30s")
		}
		time.Sleep(10 * time.Millisecond)
		lead = c.leader()
	}
	follower := (lead + 1) % len(c.members)

	// Preload, 100 puts a transaction (etcd allows 128), 8 at a time.
	t0 := time.Now()
	const batch = 100
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for s := w * batch; s < p.Keys; s += 8 * batch {
				var ops []clientv3.Op
				for i := s; i < min(s+batch, p.Keys); i++ {
					ops = append(ops, clientv3.OpPut(etcdKey(i), string(value(p, i))))
				}
				if _, err := c.inproc[lead].Txn(ctx).Then(ops...).Commit(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("preload: %w", err)
	}
	m["preload_s"] = time.Since(t0).Seconds()
	// Every member has applied the preload before memory is measured.
	for _, cl := range c.inproc {
		if _, err := cl.Get(ctx, etcdKey(p.Keys-1)); err != nil {
			return nil, err
		}
	}
	m["mem_heap_mb"] = heapInUse()
	m["mem_rss_mb"] = peakRSS()
	if err := writeHeapProfile(p); err != nil {
		return nil, err
	}

	grpcAll, err := c.grpc(0, 1, 2)
	if err != nil {
		return nil, err
	}
	defer grpcAll.Close()
	grpcLead, err := c.grpc(lead)
	if err != nil {
		return nil, err
	}
	defer grpcLead.Close()

	// (a) 64 clients, read-modify-write of random keys, spread over the
	// members: in process, then over gRPC.
	rmw := func(kv func(c int) clientv3.KV, keys int) func(int, *rand.Rand) error {
		return func(cl int, rng *rand.Rand) error {
			_, err := etcdRMW(ctx, kv(cl), etcdKey(rng.IntN(keys)))
			return err
		}
	}
	inproc := func(cl int) clientv3.KV { return c.inproc[cl%len(c.inproc)] }
	stop, err := startCPUProfile(p, "a")
	if err != nil {
		return nil, err
	}
	const fsyncs = "etcd_disk_wal_fsync_duration_seconds" // every member's, in one registry
	syncs, t0, cpu0 := histCount(fsyncs, prometheus.DefaultGatherer), time.Now(), cpuSeconds()
	m["a_cps"], err = throughput(p.Clients, p.Duration, rmw(inproc, p.Keys))
	m["a_syncs_per_commit"] = (histCount(fsyncs, prometheus.DefaultGatherer) - syncs) / time.Since(t0).Seconds() / m["a_cps"]
	m["a_cpu_us"] = (cpuSeconds() - cpu0) / time.Since(t0).Seconds() / m["a_cps"] * 1e6
	stop()
	if err != nil {
		return nil, fmt.Errorf("a: %w", err)
	}
	if m["a_nat_cps"], err = throughput(p.Clients, p.Duration, rmw(func(int) clientv3.KV { return grpcAll }, p.Keys)); err != nil {
		return nil, fmt.Errorf("a grpc: %w", err)
	}

	// (b) one client on the leader.
	one := func(kv clientv3.KV) func(*rand.Rand) error {
		return func(rng *rand.Rand) error {
			_, err := etcdRMW(ctx, kv, etcdKey(rng.IntN(p.Keys)))
			return err
		}
	}
	if stop, err = startCPUProfile(p, "b"); err != nil {
		return nil, err
	}
	syncs, cpu0 = histCount(fsyncs, prometheus.DefaultGatherer), cpuSeconds()
	ds, err := sequential(p.Duration, one(c.inproc[lead]))
	m["b_syncs_per_commit"] = (histCount(fsyncs, prometheus.DefaultGatherer) - syncs) / float64(ds.len())
	m["b_cpu_us"] = (cpuSeconds() - cpu0) / float64(ds.len()) * 1e6
	stop()
	if err != nil {
		return nil, fmt.Errorf("b: %w", err)
	}
	m["b_p50_us"], m["b_p99_us"] = ds.pct(0.5), ds.pct(0.99)
	if ds, err = sequential(p.Duration, one(grpcLead)); err != nil {
		return nil, fmt.Errorf("b grpc: %w", err)
	}
	m["b_nat_p50_us"], m["b_nat_p99_us"] = ds.pct(0.5), ds.pct(0.99)

	// (c) 64 clients on p.Hot keys; the most retries of one transaction.
	var mu sync.Mutex
	most := 0
	m["c_cps"], err = throughput(p.Clients, p.Duration, func(cl int, rng *rand.Rand) error {
		r, err := etcdRMW(ctx, inproc(cl), etcdKey(rng.IntN(p.Hot)))
		mu.Lock()
		most = max(most, r)
		mu.Unlock()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("c: %w", err)
	}
	m["c_max_retries"] = float64(most)
	m["c_failed"] = 0 // retried until success

	// (d) local reads on a follower: serializable Get.
	if ds, err = sequential(p.Duration, func(rng *rand.Rand) error {
		_, err := c.inproc[follower].Get(ctx, etcdKey(rng.IntN(p.Keys)), clientv3.WithSerializable())
		return err
	}); err != nil {
		return nil, fmt.Errorf("d: %w", err)
	}
	m["d_ops"], m["d_p50_us"] = ds.perSecond(), ds.pct(0.5)

	// (e) a put on the leader to its event at a watch on a follower, both
	// timed from before the put.
	key := etcdKey(p.Keys - 1)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	wch := c.inproc[follower].Watch(wctx, key)
	got := make(chan seen, 16)
	go func() {
		for wr := range wch {
			for _, ev := range wr.Events {
				got <- seen{counter(ev.Kv.Value), time.Now()}
			}
		}
	}()
	commit, deliver := newLatencies(), newLatencies()
	v := value(p, p.Keys-1)
	for end := time.Now().Add(p.Duration); time.Now().Before(end); {
		v = bump(v)
		want := counter(v)
		t0 := time.Now()
		if _, err := c.inproc[lead].Put(ctx, key, string(v)); err != nil {
			return nil, fmt.Errorf("e: %w", err)
		}
		commit.add(time.Since(t0))
		for s := range got {
			if s.n == want {
				deliver.add(s.at.Sub(t0))
				break
			}
		}
	}
	wcancel()
	m["e_p50_us"], m["e_p99_us"], m["e_commit_p50_us"] = deliver.pct(0.5), deliver.pct(0.99), commit.pct(0.5)

	// (f) linearizable reads on a follower.
	if ds, err = sequential(p.Duration, func(rng *rand.Rand) error {
		_, err := c.inproc[follower].Get(ctx, etcdKey(rng.IntN(p.Keys)))
		return err
	}); err != nil {
		return nil, fmt.Errorf("f: %w", err)
	}
	m["f_ops"], m["f_p50_us"] = ds.perSecond(), ds.pct(0.5)

	m["rss_end_mb"] = peakRSS()
	return res, nil
}
