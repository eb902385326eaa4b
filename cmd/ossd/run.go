package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/pki"
)

func run(args []string) error {
	fs := flag.NewFlagSet("ossd run", flag.ContinueOnError)
	host, _ := os.Hostname()
	name := fs.String("name", host, "the node's name, as in its certificate")
	dataDir := fs.String("data-dir", "", "the node's directory: its identity and write-ahead log, locked while it runs (default data/NAME)")
	stripeDirs := fs.String("stripe-dirs", "", "comma-separated directories of the striped object store, one stripe each (one per disk adds bandwidth); default one in the data directory")
	rebuild := fs.Bool("rebuild-replica", false, "move the data directory (and stripe directories) aside and start empty, rebuilding this node's replicas from its peers (needs --join); for a node whose data is damaged")
	durability := fs.String("durability", "sync", `"sync" (a commit is on disk before it is acknowledged), "batch" (synced every --batch-interval) or "memory" (nothing on disk)`)
	batchInterval := fs.Duration("batch-interval", 10*time.Millisecond, `how often --durability batch syncs the log`)
	listen := fs.String("listen", "127.0.0.1:7400", "UDP address of the node's QUIC endpoint")
	advertise := fs.String("advertise", "", "address peers reach the node at, HOST:PORT; a host name is resolved to its IP address at start (default: the bound listen address)")
	join := fs.String("join", "", "comma-separated addresses of members to join through; empty bootstraps a new cluster")
	replicas := fs.Int("replicas", 3, "voters of each new heap")
	replaceAfter := fs.Duration("replace-after", 30*time.Second, "how long a voter may be unreachable before it is replaced")
	role := fs.String("role", string(pki.RoleServer), `"server" (holds voters) or "client"`)
	certs := fs.String("certs", "", "directory holding ca.crt, NAME.crt and NAME.key (instead of --ca, --cert, --key)")
	caFile := fs.String("ca", "", "the cluster CA's certificate (PEM)")
	certFile := fs.String("cert", "", "the node's certificate (PEM)")
	keyFile := fs.String("key", "", "the node's private key (PEM)")
	httpAddr := fs.String("http", admin.DefaultAddr, "address of the admin interface: HTTPS, clients need a certificate of the cluster's CA (\"ossd cert issue --role admin\"); empty disables it")
	httpInsecure := fs.Bool("http-insecure", false, "serve the admin interface as plain HTTP without client certificates: anyone who can connect may do everything; loopback addresses only")
	httpMaxBody := fs.Int64("http-max-body", admin.DefaultMaxBodyBytes, "the most bytes of a write's body (PUT of a root, POST of a transaction) the admin interface reads; larger is refused with 413")
	gossip := fs.String("gossip", "lan", `failure-detection timings: "lan" or "loopback" (several nodes on one machine)`)
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", `"text" (key=value) or "json" (one JSON object a line); the last lines are also kept in memory for "ossd debug bundle"`)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *httpAddr != "" {
		// Refused before anything starts.
		host, _, err := net.SplitHostPort(*httpAddr)
		if err != nil {
			return fmt.Errorf("run: --http %q: %w", *httpAddr, err)
		}
		if *httpInsecure && !admin.IsLoopback(host) {
			return fmt.Errorf("run: --http-insecure serves the admin interface without authentication, so only on loopback, not on %q: use --http 127.0.0.1:PORT, or drop --http-insecure to serve HTTPS with client certificates", *httpAddr)
		}
		if *httpMaxBody <= 0 {
			return fmt.Errorf("run: --http-max-body %d: want a positive number of bytes", *httpMaxBody)
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	// The last lines are kept in memory too, for GET /debug/logs and
	// "ossd debug bundle".
	logs := admin.NewLogRing(0, 0)
	logger, err := newLogger(io.MultiWriter(logs, os.Stderr), *logFormat, level)
	if err != nil {
		return err
	}

	if *certs != "" {
		*caFile = orDefault(*caFile, filepath.Join(*certs, "ca.crt"))
		*certFile = orDefault(*certFile, filepath.Join(*certs, *name+".crt"))
		*keyFile = orDefault(*keyFile, filepath.Join(*certs, *name+".key"))
	}
	if *caFile == "" || *certFile == "" || *keyFile == "" {
		return errors.New("run: TLS material is required: --certs DIR, or --ca, --cert and --key (see \"ossd ca init\" and \"ossd cert issue\")")
	}
	tlsc := &oss.TLSConfig{}
	for _, f := range []struct {
		path string
		to   *[]byte
	}{{*caFile, &tlsc.CAPEM}, {*certFile, &tlsc.CertPEM}, {*keyFile, &tlsc.KeyPEM}} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		*f.to = b
	}
	if *dataDir == "" && *durability != "memory" {
		*dataDir = filepath.Join("data", *name)
	}
	if *rebuild {
		if *join == "" {
			return errors.New("run: --rebuild-replica needs --join: the replicas are rebuilt from the peers")
		}
		dirs := []string{*dataDir}
		if *stripeDirs != "" {
			dirs = append(dirs, strings.Split(*stripeDirs, ",")...)
		}
		suffix := ".broken-" + time.Now().UTC().Format("20060102T150405")
		for _, d := range dirs {
			if _, err := os.Stat(d); err != nil {
				continue
			}
			if err := os.Rename(d, d+suffix); err != nil {
				return fmt.Errorf("run: --rebuild-replica: %w", err)
			}
			logger.Warn("moved aside to rebuild this node's replicas from its peers", "dir", d, "to", d+suffix)
		}
	}
	var dur oss.Durability
	switch *durability {
	case "sync":
		dur = oss.DurabilitySync
	case "batch":
		dur = oss.DurabilityBatch
	case "memory":
		dur = oss.DurabilityMemory
	default:
		return fmt.Errorf("run: --durability %q: want sync, batch or memory", *durability)
	}
	if *advertise != "" {
		a, err := resolveAdvertise(context.Background(), net.DefaultResolver, *advertise)
		if err != nil {
			return fmt.Errorf("run: --advertise: %w", err)
		}
		if a != *advertise {
			logger.Info("advertising the address the name resolves to", "advertise", *advertise, "addr", a)
		}
		*advertise = a
	}
	cfg := &oss.Config{
		Durability: dur, BatchInterval: *batchInterval,
		Name: *name, DataDir: *dataDir, Listen: *listen, Advertise: *advertise,
		Replicas: *replicas, ReplaceAfter: *replaceAfter, Role: pki.Role(*role), TLS: tlsc, Logger: logger,
	}
	if *stripeDirs != "" {
		cfg.StripeDirs = strings.Split(*stripeDirs, ",")
	}
	if *join != "" {
		cfg.Join = strings.Split(*join, ",")
	}
	switch *gossip {
	case "lan":
	case "loopback":
		cfg.Gossip = oss.GossipLoopback
	default:
		return fmt.Errorf("run: --gossip %q: want lan or loopback", *gossip)
	}

	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		cfg.OnProgress = progressBar(os.Stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	node, err := oss.Start(ctx, cfg)
	if errors.Is(err, oss.ErrCorrupt) {
		return fmt.Errorf("run: %w (--rebuild-replica with --join does that)", err)
	}
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	var srv *admin.Server
	if *httpAddr != "" {
		srv, err = admin.NewServer(node, &admin.Options{
			Addr: *httpAddr, Insecure: *httpInsecure, MaxBodyBytes: *httpMaxBody, Logger: logger, Logs: logs,
			CAPEM: tlsc.CAPEM, CertPEM: tlsc.CertPEM, KeyPEM: tlsc.KeyPEM,
		})
		if err != nil {
			node.Close(context.Background())
			return fmt.Errorf("run: admin interface: %w", err)
		}
		logger.Info("admin interface listening", "url", srv.URL())
	}
	reloadOnHangup(ctx, node, *certFile, *keyFile, logger)
	// The node's own lines carry node= already; this one names it once.
	logger.Info("node running", "node", *name, "addr", node.Addr(), "join", cfg.Join, "data", *dataDir, "durability", dur.String())
	<-ctx.Done()
	stop()
	// A second signal cuts the hand-over and the leave short.
	cctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	logger.Info("leaving: handing replicas over (a second signal closes the node at once)")
	if srv != nil {
		sctx, cancel := context.WithTimeout(cctx, 2*time.Second)
		srv.Close(sctx)
		cancel()
	}
	if err := node.Close(cctx); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	logger.Info("left the cluster")
	return nil
}

// newLogger returns ossd's logger: format "text" or "json", to w, at
// level and above.
func newLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("run: --log-format %q: want text or json", format)
}

// resolveAdvertise returns addr with its host resolved to an IP address:
// peers reach a node at an IP, and a name (a container's service name,
// a host's DNS name) is resolved once, at start. An IPv4 address is
// preferred when the name has both.
func resolveAdvertise(ctx context.Context, r *net.Resolver, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if host == "" {
		return "", fmt.Errorf("%q: want HOST:PORT", addr)
	}
	if net.ParseIP(host) != nil {
		return addr, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ips, err := r.LookupIP(ctx, "ip", host)
	if err != nil {
		return "", fmt.Errorf("%q: %w", addr, err)
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("%q: %s has no address", addr, host)
	}
	ip := ips[0]
	for _, c := range ips {
		if c.To4() != nil {
			ip = c
			break
		}
	}
	return net.JoinHostPort(ip.String(), port), nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// progressBar draws the progress of work at start on a terminal.
func progressBar(w io.Writer) func(oss.Progress) {
	var mu sync.Mutex
	var last time.Time
	return func(p oss.Progress) {
		mu.Lock()
		defer mu.Unlock()
		finished := p.Done >= p.Total
		if !finished && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		frac := 1.0
		if p.Total > 0 {
			frac = float64(p.Done) / float64(p.Total)
		}
		const width = 30
		bar := strings.Repeat("=", int(frac*width)) + strings.Repeat(" ", width-int(frac*width))
		fmt.Fprintf(w, "\r%-32s [%s] %3.0f%% %d/%d MiB", p.Task, bar, 100*frac, p.Done>>20, p.Total>>20)
		if finished {
			fmt.Fprintln(w)
		}
	}
}
