package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// localOptions configure the cluster a window starts when it joins none.
type localOptions struct {
	// nodes is the number of server nodes.
	nodes int
	// dataDir, if not empty, keeps the nodes' data (dataDir/node1, …)
	// and the cluster's certificates (dataDir/certs), so that the world
	// outlives the process. Otherwise the certificates go to a temporary
	// directory, removed on close, and the nodes keep nothing.
	dataDir string
	// port, if not zero, puts node i on 127.0.0.1:port+i (so a second
	// window's command works again after a restart); otherwise the
	// system picks the ports.
	port int
	// guests are the names of client certificates to issue for other
	// windows to join with.
	guests []string
	logger *slog.Logger
}

// local is a cluster of server nodes in this process, on loopback QUIC
// with mutual TLS: what a newcomer's window starts.
type local struct {
	nodes   []*oss.Node
	certs   string   // the certificate directory
	tempDir bool     // certs is temporary
	lock    *os.File // holds the temporary directory's lock while the cluster runs (Linux)
	caCert  []byte
	caKey   []byte
}

const certValidity = 365 * 24 * time.Hour

// startLocal starts the cluster: node1 bootstraps it (or recovers it from
// its data directory), the others join through it.
func startLocal(ctx context.Context, o localOptions) (*local, error) {
	l := &local{}
	if o.dataDir != "" {
		l.certs = filepath.Join(o.dataDir, "certs")
		if err := os.MkdirAll(l.certs, 0o700); err != nil {
			return nil, err
		}
	} else {
		d, lock, err := makeTempCerts()
		if err != nil {
			return nil, err
		}
		l.certs, l.tempDir, l.lock = d, true, lock
	}
	if err := l.loadCA(); err != nil {
		l.Close(ctx)
		return nil, err
	}
	for _, g := range o.guests {
		if err := l.issue(g, pki.RoleClient); err != nil {
			l.Close(ctx)
			return nil, err
		}
	}
	if err := l.startNodes(ctx, o); err != nil {
		l.Close(ctx)
		return nil, err
	}
	if err := l.grantGuests(ctx, o.guests); err != nil {
		l.Close(ctx)
		return nil, err
	}
	return l, nil
}

// startNodes starts the cluster's server nodes, node1 to nodeN: the
// first bootstraps the cluster (or recovers it from its data directory),
// the others join the ones started before. With a data directory, the
// nodes that hold data start first, and a node whose directory is empty
// (or missing) joins them: a node whose data was damaged, moved aside as
// its error says, then rebuilds its replicas from its peers, where it
// would have bootstrapped a second cluster that the others refuse.
// l.nodes stays in the order of the names.
func (l *local) startNodes(ctx context.Context, o localOptions) error {
	order := make([]int, 0, o.nodes)
	var empty []int
	for i := range o.nodes {
		if o.dataDir != "" && !holdsData(filepath.Join(o.dataDir, "node"+strconv.Itoa(i+1))) {
			empty = append(empty, i)
			continue
		}
		order = append(order, i)
	}
	order = append(order, empty...)
	nodes := make([]*oss.Node, o.nodes)
	var addrs []string
	for _, i := range order {
		n, err := l.startNode(ctx, o, i, addrs)
		if err != nil {
			for _, n := range nodes {
				if n != nil {
					l.nodes = append(l.nodes, n)
				}
			}
			return err
		}
		nodes[i] = n
		addrs = append(addrs, n.Addr())
	}
	l.nodes = nodes
	return nil
}

// startNode starts node i+1 of the cluster, joining it through join
// (none: it bootstraps the cluster, or recovers it from its data).
func (l *local) startNode(ctx context.Context, o localOptions, i int, join []string) (*oss.Node, error) {
	name := "node" + strconv.Itoa(i+1)
	if err := l.issue(name, pki.RoleServer); err != nil {
		return nil, err
	}
	cfg, err := l.config(name, pki.RoleServer, o.logger)
	if err != nil {
		return nil, err
	}
	cfg.Listen = "127.0.0.1:0"
	if o.port != 0 {
		cfg.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(o.port+i))
	}
	if o.dataDir != "" {
		cfg.DataDir = filepath.Join(o.dataDir, name)
		cfg.Durability = oss.DurabilityBatch
	}
	cfg.Join = join
	n, err := oss.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// holdsData reports whether dir is a node's data directory with
// something in it: one that is missing, empty or unreadable holds none.
func holdsData(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) > 0
}

// loadCA reads the cluster CA from the certificate directory, making one
// if there is none. A temporary directory gets no ca.key: the CA's key
// stays in memory, where the cluster issues its certificates, as nothing
// reads it from the directory and a process killed before its Close
// would leave it behind.
func (l *local) loadCA() error {
	certPath, keyPath := filepath.Join(l.certs, "ca.crt"), filepath.Join(l.certs, "ca.key")
	cert, err1 := os.ReadFile(certPath)
	key, err2 := os.ReadFile(keyPath)
	if err1 == nil && err2 == nil {
		l.caCert, l.caKey = cert, key
		return nil
	}
	if !errors.Is(err1, os.ErrNotExist) && err1 != nil {
		return err1
	}
	cert, key, err := pki.NewCA("wissenheim", 10*certValidity)
	if err != nil {
		return err
	}
	if !l.tempDir {
		if err := os.WriteFile(keyPath, key, 0o600); err != nil {
			return err
		}
	}
	if err := os.WriteFile(certPath, cert, 0o644); err != nil {
		return err
	}
	l.caCert, l.caKey = cert, key
	return nil
}

// issue writes NAME.crt and NAME.key to the certificate directory, in the
// layout ossd's --certs reads.
func (l *local) issue(name string, role pki.Role) error {
	cert, key, err := pki.IssueCert(l.caCert, l.caKey, name, role, certValidity)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(l.certs, name+".key"), key, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(l.certs, name+".crt"), cert, 0o644)
}

// config returns a node's configuration with its TLS material.
func (l *local) config(name string, role pki.Role, logger *slog.Logger) (*oss.Config, error) {
	tc, err := readCerts(l.certs, name)
	if err != nil {
		return nil, err
	}
	return &oss.Config{Name: name, Role: role, TLS: tc, Gossip: oss.GossipLoopback, Logger: logger,
		// Every node of a local cluster stops together: its voters are
		// replaced only if one stays away.
		ReplaceAfter: time.Minute}, nil
}

// addrs returns the nodes' addresses.
func (l *local) addrs() []string {
	var as []string
	for _, n := range l.nodes {
		as = append(as, n.Addr())
	}
	return as
}

// Close closes every node, then removes a temporary certificate
// directory.
func (l *local) Close(ctx context.Context) error {
	var errs []error
	for i := len(l.nodes) - 1; i >= 0; i-- {
		errs = append(errs, l.nodes[i].Close(ctx))
	}
	l.nodes = nil
	if l.tempDir {
		errs = append(errs, os.RemoveAll(l.certs))
	}
	if l.lock != nil {
		l.lock.Close()
		l.lock = nil
	}
	return errors.Join(errs...)
}

// readCerts reads a node's TLS material from a directory holding ca.crt,
// NAME.crt and NAME.key, as ossd's --certs does.
func readCerts(dir, name string) (*oss.TLSConfig, error) {
	var tc oss.TLSConfig
	for _, f := range []struct {
		file string
		dst  *[]byte
	}{{"ca.crt", &tc.CAPEM}, {name + ".crt", &tc.CertPEM}, {name + ".key", &tc.KeyPEM}} {
		b, err := os.ReadFile(filepath.Join(dir, f.file))
		if err != nil {
			return nil, certsMissing(dir, name, f.file, err) // joinadvice.go
		}
		*f.dst = b
	}
	return &tc, nil
}

// checkCerts checks, before a client node starts, the TLS material a
// player named name joins with: what no retry can mend (a key that is
// not the certificate's, a certificate of another name or role, one
// expired, a CA file that holds none) is said at once.
func checkCerts(dir, name string) error {
	tc, err := readCerts(dir, name)
	if err != nil {
		return err
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("certificates for %q in %s: %s", name, dir, fmt.Sprintf(format, a...))
	}
	if _, err := tls.X509KeyPair(tc.CertPEM, tc.KeyPEM); err != nil {
		return bad("%s.crt and %s.key: %v", name, name, err)
	}
	info, err := pki.Inspect(tc.CertPEM)
	switch {
	case err != nil:
		return bad("%s.crt: %v", name, err)
	case info.Name != name:
		return bad("%s.crt is %q's certificate", name, info.Name)
	case info.Role != pki.RoleClient:
		return bad("%s.crt carries the role %q; a player's node needs a client certificate (ossd cert issue --role client)", name, info.Role)
	case time.Now().After(info.NotAfter):
		return bad("%s.crt expired on %s", name, info.NotAfter.Format(time.RFC3339))
	}
	if ca, err := pki.Inspect(tc.CAPEM); err != nil || !ca.IsCA {
		return bad("ca.crt holds no CA certificate (%v)", err)
	}
	return nil
}

// grantGuests lets the guests' client nodes create and write every heap
// of the local cluster (the world's among them): access control is on,
// and a client needs a grant.
func (l *local) grantGuests(ctx context.Context, guests []string) error {
	if len(l.nodes) == 0 {
		return nil
	}
	for _, g := range guests {
		if err := l.nodes[0].Grant(ctx, oss.Grant{Who: g, Heap: "*", Perm: oss.PermAdmin}); err != nil {
			return fmt.Errorf("grant %s: %w", g, err)
		}
	}
	return nil
}
