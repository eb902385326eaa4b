package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
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
	var f runFlags
	if err := f.parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	// The last lines are kept in memory too, for GET /debug/logs and
	// "ossd debug bundle".
	logs := admin.NewLogRing(0, 0)
	logger, err := newLogger(io.MultiWriter(logs, os.Stderr), f.logFormat, level)
	if err != nil {
		return err
	}
	for _, e := range f.envTypos {
		logger.Warn("an OSS_* variable that is no flag of ossd run is ignored: a misspelling?", "set", e.name, "flag", e.near)
	}
	tlsc, err := f.loadTLS(logger)
	if err != nil {
		return err
	}
	if f.dataDir == "" && f.durability != "memory" {
		f.dataDir = filepath.Join("data", f.name)
	}
	if f.rebuild {
		if err := f.moveAside(logger); err != nil {
			return err
		}
	}
	cfg, err := f.config(tlsc, logger)
	if err != nil {
		return err
	}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		cfg.OnProgress = progressBar(os.Stderr)
	}
	// The admin interface's address is bound first: one in use fails the
	// node before it joins the cluster, not after. Until the node has
	// started, it answers that the node is starting.
	var srv *admin.Server
	opts := f.adminOptions(tlsc, logger, logs)
	if f.httpAddr != "" {
		if opts.Listener, err = net.Listen("tcp", f.httpAddr); err != nil {
			return addrFailed("--http", f.httpAddr, err)
		}
		if srv, err = admin.Starting(f.name, opts); err != nil {
			return fmt.Errorf("run: admin interface: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := catchHangup()
	defer hup.stop()
	node, err := oss.Start(ctx, cfg)
	if err != nil {
		if srv != nil {
			srv.Close(context.Background())
		}
		return startFailed(ctx, err, f.listen, logger)
	}
	if srv != nil {
		if err := srv.Ready(node, opts); err != nil {
			srv.Close(context.Background())
			node.Close(context.Background())
			return fmt.Errorf("run: admin interface: %w", err)
		}
		logger.Info("admin interface listening", "url", srv.URL())
	}
	hup.serve(ctx, node, srv, tlsFiles{ca: f.caFile, cert: f.certFile, key: f.keyFile}, logger)
	// The node's own lines carry node= already; this one names it once.
	logger.Info("node running", "node", f.name, "addr", node.Addr(), "join", cfg.Join, "data", f.dataDir, "durability", cfg.Durability.String())
	<-ctx.Done()
	return leave(stop, node, srv, hup, logger, f.shutdownTimeout)
}

// adminOptions are the admin interface's options the flags give.
func (f *runFlags) adminOptions(tlsc *oss.TLSConfig, logger *slog.Logger, logs *admin.LogRing) *admin.Options {
	return &admin.Options{
		Insecure: f.httpInsecure, MaxBodyBytes: f.httpMaxBody, Logger: logger, Logs: logs,
		RateLimit: f.httpRate, RateBurst: f.httpBurst,
		MaxConns: f.httpMaxConns, MaxConnsPerIdentity: f.httpConnsPerID,
		CAPEM: tlsc.CAPEM, CertPEM: tlsc.CertPEM, KeyPEM: tlsc.KeyPEM,
	}
}

// startFailed returns what "ossd run" says when the node did not start:
// nothing when a signal stopped it while it waited to join, which is what
// the user asked for.
func startFailed(ctx context.Context, err error, listen string, logger *slog.Logger) error {
	if ctx.Err() != nil {
		logger.Info("stopped before the node joined the cluster", "err", err)
		return nil
	}
	if errors.Is(err, oss.ErrCorrupt) {
		return fmt.Errorf("run: %w (--rebuild-replica with --join does that)", err)
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		// The QUIC endpoint's UDP port: said as "oss: transport: listen:
		// listen udp ...", it named no flag.
		return addrFailed("--listen", listen, err)
	}
	return fmt.Errorf("run: %w", err)
}

// addrFailed says that the address a flag gives could not be bound, and,
// when another process holds it, what to do: a second node started on
// one machine with the first one's flags (or the defaults) finds both
// its addresses taken.
func addrFailed(flag, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("run: %s %s is in use by another process (another node?): give each node on this machine its own %s port: %w", flag, addr, flag, err)
	}
	return fmt.Errorf("run: %s: %w", flag, err)
}

// runFlags are the flags of "ossd run".
type runFlags struct {
	name, dataDir, stripeDirs   string
	rebuild                     bool
	durability                  string
	batchInterval               time.Duration
	listen, advertise, join     string
	replicas                    int
	replaceAfter                time.Duration
	shutdownTimeout             time.Duration
	role                        string
	certs, caFile, certFile     string
	keyFile                     string
	httpAddr                    string
	httpInsecure                bool
	httpMaxBody                 int64
	httpRate                    float64
	httpBurst                   int
	httpMaxConns                int
	httpConnsPerID              int
	gossip, logLevel, logFormat string
	envTypos                    []envTypo // warned of once the log is set up
}

// parse parses args into f, and refuses a bad admin interface setting
// before anything starts.
func (f *runFlags) parse(args []string) error {
	fs := flag.NewFlagSet("ossd run", flag.ContinueOnError)
	withSynopsis(fs) // synopsis.go
	host, _ := os.Hostname()
	fs.StringVar(&f.name, "name", host, "the node's name, as in its certificate")
	fs.StringVar(&f.dataDir, "data-dir", "", "the node's directory: its identity and write-ahead log, locked while it runs (default data/NAME)")
	fs.StringVar(&f.stripeDirs, "stripe-dirs", "", "comma-separated directories of the striped object store, one stripe each (one per disk adds bandwidth); default one in the data directory")
	fs.BoolVar(&f.rebuild, "rebuild-replica", false, "move the data directory (and stripe directories) aside and start empty, rebuilding this node's replicas from its peers (needs --join); for a node whose data is damaged")
	fs.StringVar(&f.durability, "durability", "sync", `"sync" (a commit is on disk before it is acknowledged), "batch" (synced every --batch-interval) or "memory" (nothing on disk)`)
	fs.DurationVar(&f.batchInterval, "batch-interval", 10*time.Millisecond, `how often --durability batch syncs the log`)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:7400", "UDP address of the node's QUIC endpoint")
	fs.StringVar(&f.advertise, "advertise", "", "address peers reach the node at, HOST:PORT; a host name is resolved to its IP address at start (default: the bound listen address)")
	fs.StringVar(&f.join, "join", "", "comma-separated QUIC addresses of members to join through (the node's own is skipped); it waits, trying again, until one answers; empty bootstraps a new cluster")
	fs.IntVar(&f.replicas, "replicas", 3, "voters of each new heap")
	fs.DurationVar(&f.replaceAfter, "replace-after", 30*time.Second, "how long a voter may be unreachable before it is replaced")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "how long a stop (SIGINT or SIGTERM) may take: past it the hand-over and the leave are cut short, and a data directory whose disk is stalled is left as it is, ossd exiting 1 naming the file (under systemd's TimeoutStopSec and compose's stop_grace_period)")
	fs.StringVar(&f.role, "role", string(pki.RoleServer), `"server" (holds voters) or "client"`)
	fs.StringVar(&f.certs, "certs", "", "directory holding ca.crt, NAME.crt and NAME.key (instead of --ca, --cert, --key)")
	fs.StringVar(&f.caFile, "ca", "", "the cluster CA's certificate (PEM)")
	fs.StringVar(&f.certFile, "cert", "", "the node's certificate (PEM)")
	fs.StringVar(&f.keyFile, "key", "", "the node's private key (PEM)")
	fs.StringVar(&f.httpAddr, "http", admin.DefaultAddr, "address of the admin interface: HTTPS, clients need a certificate of the cluster's CA (\"ossd cert issue --role admin\"); empty disables it")
	fs.BoolVar(&f.httpInsecure, "http-insecure", false, "serve the admin interface as plain HTTP without client certificates: anyone who can connect may do everything; loopback addresses only")
	fs.Int64Var(&f.httpMaxBody, "http-max-body", admin.DefaultMaxBodyBytes, "the most bytes of a write's body (PUT of a root, POST of a transaction) the admin interface reads; larger is refused with 413")
	fs.Float64Var(&f.httpRate, "http-rate", admin.DefaultRateLimit, "requests a second each client certificate (name and role) may make of the admin interface on average; beyond it (and --http-burst) a request is refused with 429 and Retry-After, having done nothing; inf for no limit")
	fs.IntVar(&f.httpBurst, "http-burst", admin.DefaultRateBurst, "requests a client certificate may make at once, after a pause, beyond --http-rate's pace")
	fs.IntVar(&f.httpMaxConns, "http-max-conns", admin.DefaultMaxConns, "connections the admin interface holds open at once, authenticated or not; the next is accepted when one closes")
	fs.IntVar(&f.httpConnsPerID, "http-max-conns-per-identity", 0, "connections one client certificate (name and role) may hold of --http-max-conns; one more is answered 429 and closed (0: half of --http-max-conns)")
	fs.StringVar(&f.gossip, "gossip", "lan", `failure-detection timings: "lan" or "loopback" (several nodes on one machine)`)
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", `"text" (key=value) or "json" (one JSON object a line); the last lines are also kept in memory for "ossd debug bundle"`)
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	f.envTypos = envTypos(fs, os.Environ())
	if err := f.checkCounts(); err != nil {
		return err
	}
	if err := f.checkAddrs(); err != nil {
		return err
	}
	if f.httpAddr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(f.httpAddr)
	if err != nil {
		return fmt.Errorf("run: --http %q: %w", f.httpAddr, err)
	}
	if f.httpInsecure && !admin.IsLoopback(host) {
		return fmt.Errorf("run: --http-insecure serves the admin interface without authentication, so only on loopback, not on %q: use --http 127.0.0.1:PORT, or drop --http-insecure to serve HTTPS with client certificates", f.httpAddr)
	}
	return f.checkHTTPLimits()
}

// checkHTTPLimits refuses admin interface limits that are not positive:
// zero would mean the library's default, and a negative rate none.
func (f *runFlags) checkHTTPLimits() error {
	switch {
	case f.httpMaxBody <= 0:
		return fmt.Errorf("run: --http-max-body %d: want a positive number of bytes", f.httpMaxBody)
	case !(f.httpRate > 0):
		return fmt.Errorf("run: --http-rate %g: want a positive number of requests a second (default %d; inf for no limit)", f.httpRate, admin.DefaultRateLimit)
	case f.httpBurst <= 0:
		return fmt.Errorf("run: --http-burst %d: want a positive number of requests (default %d)", f.httpBurst, admin.DefaultRateBurst)
	case f.httpMaxConns <= 0:
		return fmt.Errorf("run: --http-max-conns %d: want a positive number of connections (default %d)", f.httpMaxConns, admin.DefaultMaxConns)
	case f.httpConnsPerID < 0:
		return fmt.Errorf("run: --http-max-conns-per-identity %d: want a positive number of connections, or 0 for half of --http-max-conns", f.httpConnsPerID)
	}
	return nil
}

// checkCounts refuses a count or a duration that would otherwise mean
// the default without a word: zero voters, an instant replacement, a
// log synced continuously.
func (f *runFlags) checkCounts() error {
	switch {
	case f.replicas < 1 || f.replicas > 9:
		return fmt.Errorf("run: --replicas %d: want 1 to 9 voters of each new heap (default 3)", f.replicas)
	case f.replaceAfter <= 0:
		return fmt.Errorf("run: --replace-after %v: want a positive duration (default 30s)", f.replaceAfter)
	case f.shutdownTimeout <= 0:
		return fmt.Errorf("run: --shutdown-timeout %v: want a positive duration (default %v)", f.shutdownTimeout, defaultShutdownTimeout)
	case f.batchInterval <= 0:
		return fmt.Errorf("run: --batch-interval %v: want a positive duration (default 10ms)", f.batchInterval)
	}
	return nil
}

// checkAddrs refuses a --listen that is no HOST:PORT (a port number or a
// UDP service's name, as the transport takes it), and an --advertise
// without --listen: the node would listen nowhere, and the library
// refuses an advertised address with nothing to reach it at.
func (f *runFlags) checkAddrs() error {
	if f.listen == "" {
		if f.advertise != "" {
			return fmt.Errorf("run: --advertise %s needs --listen: with --listen \"\" the node listens nowhere, and no peer reaches it at an address", f.advertise)
		}
		return nil
	}
	_, port, err := net.SplitHostPort(f.listen)
	if err == nil {
		// The port the transport listens at (net.ListenPacket): a number,
		// or a UDP service's name.
		if _, perr := net.LookupPort("udp", port); perr != nil {
			err = fmt.Errorf("port %q: want 0 to 65535, or the name of a UDP service", port)
		}
	}
	if err != nil {
		return fmt.Errorf("run: --listen %q: %v: want the UDP address to listen at, HOST:PORT (default 127.0.0.1:7400)", f.listen, err)
	}
	return nil
}

// readTLS reads the node's TLS material, from --certs or --ca, --cert
// and --key.
func (f *runFlags) readTLS() (*oss.TLSConfig, error) {
	if f.certs != "" {
		f.caFile = orDefault(f.caFile, filepath.Join(f.certs, "ca.crt"))
		f.certFile = orDefault(f.certFile, filepath.Join(f.certs, f.name+".crt"))
		f.keyFile = orDefault(f.keyFile, filepath.Join(f.certs, f.name+".key"))
	}
	if f.caFile == "" || f.certFile == "" || f.keyFile == "" {
		return nil, errors.New("run: TLS material is required: --certs DIR, or --ca, --cert and --key (see \"ossd ca init\" and \"ossd cert issue\")")
	}
	tlsc := &oss.TLSConfig{}
	for _, file := range []struct {
		path string
		to   *[]byte
	}{{f.caFile, &tlsc.CAPEM}, {f.certFile, &tlsc.CertPEM}, {f.keyFile, &tlsc.KeyPEM}} {
		b, err := os.ReadFile(file.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, f.missingTLS(file.path, err)
		}
		if err != nil {
			return nil, fmt.Errorf("run: %w", err)
		}
		*file.to = b
	}
	if err := checkTLSFiles(tlsc, f.caFile, f.certFile, f.keyFile); err != nil {
		return nil, err
	}
	if err := checkCertOwner(tlsc, f.certFile, f.name, time.Now()); err != nil {
		return nil, err
	}
	return tlsc, nil
}

// checkTLSFiles names the file that is damaged (empty, cut short, a flipped
// byte) or does not belong: the node's own checks name none of them.
func checkTLSFiles(tlsc *oss.TLSConfig, caFile, certFile, keyFile string) error {
	// The check a reload makes (SIGHUP): a bundle with one CA cut short
	// would otherwise start the node trusting the others alone, and
	// every node the lost CA certified would be refused.
	if _, err := pki.ParseBundle(tlsc.CAPEM); err != nil {
		return fmt.Errorf("run: %s: %w: it is damaged, or not the cluster CA's certificates (ossd ca init writes it)", caFile, err)
	}
	if _, err := tls.X509KeyPair(tlsc.CertPEM, tlsc.KeyPEM); err != nil {
		return fmt.Errorf("run: the node's certificate %s and key %s: %w: one is damaged, or they are not a pair; issue them again (ossd cert issue --force)", certFile, keyFile, err)
	}
	return nil
}

// checkCertOwner names the certificate file of a node whose certificate
// is another node's (copied over its own) or has expired: the node's own
// checks refuse both without naming the file.
func checkCertOwner(tlsc *oss.TLSConfig, certFile, name string, now time.Time) error {
	pair, err := tls.X509KeyPair(tlsc.CertPEM, tlsc.KeyPEM)
	if err != nil {
		return nil // checkTLSFiles said so
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil
	}
	if cn := leaf.Subject.CommonName; cn != name {
		return fmt.Errorf("run: the node's certificate %s names %q, not this node %q (--name): it is another node's; put back this node's, or issue it with \"ossd cert issue --dir DIR --name %s --force\", DIR holding the cluster's ca.key", certFile, cn, name, name)
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("run: the node's certificate %s expired at %s (now %s): issue a new one with \"ossd cert issue --dir DIR --name %s --force\", DIR holding the cluster's ca.key, and check the clock", certFile, leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), name)
	}
	return nil
}

// missingTLS says which file of the node's TLS material is missing and
// which command makes it: a bare "no such file" left a new user to guess,
// and a node run without --name looks for the host's name.
func (f *runFlags) missingTLS(path string, err error) error {
	dir := filepath.Dir(path)
	if path == f.caFile {
		return fmt.Errorf("run: %w: make the cluster's CA with \"ossd ca init --dir %s\", or point --certs (--ca) at the directory that holds it", err, dir)
	}
	return fmt.Errorf("run: %w: the node is named %q (--name); issue its certificate with \"ossd cert issue --dir %s --name %s\"", err, f.name, dir, f.name)
}

// moveAside moves the data and stripe directories aside, for
// --rebuild-replica.
func (f *runFlags) moveAside(logger *slog.Logger) error {
	if f.join == "" {
		return errors.New("run: --rebuild-replica needs --join: the replicas are rebuilt from the peers")
	}
	dirs := []string{f.dataDir}
	if f.stripeDirs != "" {
		dirs = append(dirs, strings.Split(f.stripeDirs, ",")...)
	}
	suffix := ".broken-" + time.Now().UTC().Format("20060102T150405")
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		unlock, err := lockForMove(d)
		if err != nil {
			return fmt.Errorf("run: --rebuild-replica: %w", err)
		}
		to := d + suffix
		err = renameDir(d, to)
		if errors.Is(err, syscall.EBUSY) {
			// A mount point (a disk of its own, as a stripe directory
			// often is) cannot be renamed: what it holds moves into a
			// directory inside it, which the node ignores.
			to = filepath.Join(d, suffix)
			err = moveInto(d, to)
		}
		unlock()
		if err != nil {
			return fmt.Errorf("run: --rebuild-replica: %w", err)
		}
		logger.Warn("moved aside to rebuild this node's replicas from its peers", "dir", d, "to", to)
		if d == f.dataDir {
			// The stateless reset key names the node's endpoint, not
			// its data: kept, the peers' connections to the process
			// before are reset at once, not timed out (30 s).
			if err := oss.KeepResetKey(to, d); err != nil {
				logger.Warn("the stateless reset key was not kept: the node makes a new one", "err", err)
			}
		}
	}
	return nil
}

// renameDir is os.Rename; tests make it fail as on a mount point.
var renameDir = os.Rename

// moveInto moves every entry of dir but those moved aside before into
// the new directory to, inside dir.
func moveInto(dir, to string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if err := os.Mkdir(to, 0o700); err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".broken-") {
			continue
		}
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(to, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// config returns the node's configuration, resolving --advertise.
func (f *runFlags) config(tlsc *oss.TLSConfig, logger *slog.Logger) (*oss.Config, error) {
	var dur oss.Durability
	switch f.durability {
	case "sync":
		dur = oss.DurabilitySync
	case "batch":
		dur = oss.DurabilityBatch
	case "memory":
		dur = oss.DurabilityMemory
	default:
		return nil, fmt.Errorf("run: --durability %q: want sync, batch or memory", f.durability)
	}
	if f.advertise != "" {
		a, err := resolveAdvertise(context.Background(), net.DefaultResolver, f.advertise)
		if err != nil {
			return nil, fmt.Errorf("run: --advertise: %w", err)
		}
		if a != f.advertise {
			logger.Info("advertising the address the name resolves to", "advertise", f.advertise, "addr", a)
		}
		f.advertise = a
	}
	cfg := &oss.Config{
		Durability: dur, BatchInterval: f.batchInterval,
		Name: f.name, DataDir: f.dataDir, Listen: f.listen, Advertise: f.advertise,
		Replicas: f.replicas, ReplaceAfter: f.replaceAfter, Role: pki.Role(f.role), TLS: tlsc, Logger: logger,
		// A node started before the member it joins waits for it.
		JoinRetry: true,
	}
	if f.stripeDirs != "" {
		cfg.StripeDirs = strings.Split(f.stripeDirs, ",")
	}
	if f.join != "" {
		cfg.Join = strings.Split(f.join, ",")
	}
	switch f.gossip {
	case "lan":
	case "loopback":
		cfg.Gossip = oss.GossipLoopback
	default:
		return nil, fmt.Errorf("run: --gossip %q: want lan or loopback", f.gossip)
	}
	return cfg, nil
}

// defaultShutdownTimeout bounds a stop: the hand-over (10 s) and the
// leave (5 s) take far less, and deploy's stop_grace_period (60 s) and
// TimeoutStopSec (90 s) more, so that ossd says why before it is killed.
const defaultShutdownTimeout = 45 * time.Second

// leave ends the SIGHUP reloads (waiting for one in progress), then
// closes the admin interface and the node, which hands its replicas over
// first. A second signal, or timeout, cuts the hand-over and the leave
// short: the node closes at once, as asked, and leave returns nil if that
// is all that went wrong, an error if closing its data directory failed
// too (see docs/design.md, "The daemon and the admin interface"), or if
// its disk is stalled (oss.ErrDiskStalled): the close then waits no more
// for it, and ossd exits saying which file it waited for. The leave's
// context catches the signals before stopFirst lets the first signal's
// go: a second signal in between would otherwise meet their default
// action and end the process as it stood.
func leave(stopFirst func(), node *oss.Node, srv *admin.Server, hup *hangups, logger *slog.Logger, timeout time.Duration) error {
	sigctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	cctx, cancelT := context.WithTimeout(sigctx, timeout)
	defer cancelT()
	stopFirst()
	hup.end()
	logger.Info("leaving: handing replicas over (a second signal closes the node at once)", "shutdown_timeout", timeout)
	if srv != nil {
		sctx, cancel := context.WithTimeout(cctx, 2*time.Second)
		srv.Close(sctx)
		cancel()
	}
	err := node.Close(cctx)
	if errors.Is(err, oss.ErrDiskStalled) {
		logger.Error("exiting without closing the data directory: its disk is stalled; what the log synced is kept, as after a crash", "err", err)
		return fmt.Errorf("run: %w", err)
	}
	if cctx.Err() != nil && errors.Is(err, cctx.Err()) {
		if err = withoutCut(err); err == nil {
			why := "on a second signal"
			if sigctx.Err() == nil {
				why = fmt.Sprintf("after --shutdown-timeout %v", timeout)
			}
			logger.Warn("closed at once " + why + ": its replicas were not handed over nor its leave announced; its peers replace its voters after --replace-after")
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	logger.Info("left the cluster")
	return nil
}

// withoutCut returns the errors of Node.Close's err but the hand-over's
// or the leave's cut (context.Canceled by a second signal,
// context.DeadlineExceeded by --shutdown-timeout), or nil if there is
// none.
func withoutCut(err error) error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var rest []error
	for _, e := range errs {
		if !errors.Is(e, context.Canceled) && !errors.Is(e, context.DeadlineExceeded) {
			rest = append(rest, e)
		}
	}
	return errors.Join(rest...)
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
