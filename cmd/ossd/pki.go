package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

func caInit(args []string) error {
	fs := flag.NewFlagSet("ossd ca init", flag.ContinueOnError)
	withSynopsis(fs) // synopsis.go
	dir := fs.String("dir", "certs", "directory to write ca.crt and ca.key to")
	name := fs.String("name", "oss cluster CA", "the CA's common name")
	validity := fs.Duration("validity", 10*365*24*time.Hour, "how long the CA is valid")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if *validity <= 0 {
		return fmt.Errorf("ca init: --validity %v: want a positive duration (the CA would be expired at once)", *validity)
	}
	certPath, keyPath := filepath.Join(*dir, "ca.crt"), filepath.Join(*dir, "ca.key")
	for _, p := range []string{keyPath, certPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("ca init: %s exists: a CA is already there (remove ca.crt and ca.key to start a new cluster; every node certificate it issued stops working)", p)
		}
	}
	cert, key, err := pki.NewCA(*name, *validity)
	if err != nil {
		return fmt.Errorf("ca init: %w", err)
	}
	if err := makeDir(*dir); err != nil {
		return fmt.Errorf("ca init: %w", err)
	}
	if err := writePair(keyPath, key, certPath, cert, false); err != nil {
		return fmt.Errorf("ca init: %w", err)
	}
	if err := createRegister(*dir); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("ca init: the register of issued certificates: %w", err)
	}
	fmt.Printf("wrote %s and %s; keep ca.key offline\n", certPath, keyPath)
	return nil
}

// certIssue runs "ossd cert issue": it issues a node's or an operator's
// certificate from the CA in --dir.
func certIssue(args []string) error {
	fs := flag.NewFlagSet("ossd cert issue", flag.ContinueOnError)
	withSynopsis(fs) // synopsis.go
	dir := fs.String("dir", "certs", "directory holding ca.crt and ca.key; NAME.crt and NAME.key are written there")
	name := fs.String("name", "", "the node's or the operator's name (required): letters, digits, '-', '_' and dots, as a DNS name")
	role := fs.String("role", string(pki.RoleServer), `"server" or "client" for a node, "admin" for an operator of the admin interface (ossd's CLI: --user NAME)`)
	validity := fs.Duration("validity", 365*24*time.Hour, "how long the certificate is valid; at most until the CA expires")
	force := fs.Bool("force", false, "replace an existing NAME.crt and NAME.key (to rotate a certificate: revoke the old one with \"ossd cert revoke\")")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return errors.New("cert issue: --name is required")
	}
	if err := pki.CheckName(*name); err != nil {
		return fmt.Errorf("cert issue: --name: %w", err)
	}
	if strings.EqualFold(*name, "ca") {
		// NAME.crt and NAME.key would be the CA's own files in --dir.
		return fmt.Errorf("cert issue: --name %q: the CA's files in %s are ca.crt and ca.key; choose another name", *name, *dir)
	}
	if *validity <= 0 {
		return fmt.Errorf("cert issue: --validity %v: want a positive duration (the certificate would be expired at once)", *validity)
	}
	caCert, caKey, err := readIssuingCA(*dir, *validity)
	if err != nil {
		return err
	}
	certPath, keyPath := filepath.Join(*dir, *name+".crt"), filepath.Join(*dir, *name+".key")
	if !*force {
		for _, p := range []string{keyPath, certPath} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("cert issue: %s exists: pass --force to replace it (and revoke the old certificate with \"ossd cert revoke %s --serial HEX\")", p, *name)
			}
		}
	}
	var replaced *pki.CertInfo
	if b, err := os.ReadFile(certPath); err == nil {
		if info, err := pki.Inspect(b); err == nil {
			replaced = &info
		}
	}
	*role = keptRole(fs, *role, replaced) // rotate.go
	cert, key, err := pki.IssueCert(caCert, caKey, *name, pki.Role(*role), *validity)
	if err != nil {
		return fmt.Errorf("cert issue: %w", err)
	}
	info, _ := pki.Inspect(cert)
	// Listed first: a listed certificate never written is harmless, an
	// unlisted one could not be revoked by its name (issued.go).
	if err := recordIssued(*dir, info); err != nil {
		return fmt.Errorf("cert issue: the register of issued certificates: %w", err)
	}
	if err := writePair(keyPath, key, certPath, cert, *force); err != nil {
		return fmt.Errorf("cert issue: %w", err)
	}
	fmt.Printf("wrote %s and %s (serial %s, valid until %s)\n", certPath, keyPath, info.Serial.Text(16), info.NotAfter.Format(time.RFC3339))
	if replaced != nil {
		printReplaced(*name, pki.Role(*role), replaced) // rotate.go
	}
	return nil
}

// readIssuingCA reads the CA's certificate and key from dir, and checks
// that a certificate valid for validity from now ends before the CA does.
func readIssuingCA(dir string, validity time.Duration) (caCert, caKey []byte, err error) {
	caCert, err = os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, nil, fmt.Errorf("cert issue: %w (run \"ossd ca init --dir %s\" first)", err, dir)
	}
	keyPath := filepath.Join(dir, "ca.key")
	caKey, err = os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("cert issue: no CA key %s (%w): issue certificates where the CA's key is kept, with --dir naming the directory \"ossd ca init\" wrote ca.crt and ca.key to", keyPath, err)
	}
	if _, err := tls.X509KeyPair(caCert, caKey); err != nil {
		// pki.IssueCert would say only "private key does not match public
		// key": a ca.crt replaced in a CA rotation beside the old ca.key,
		// or the files of two CAs mixed, named nothing.
		return nil, nil, fmt.Errorf("cert issue: %s and %s are not one CA's certificate and key (%w): issue with --dir naming the directory \"ossd ca init\" wrote them to; a ca.crt replaced by another CA's, as in a rotation, is no longer the CA of the ca.key beside it", filepath.Join(dir, "ca.crt"), keyPath, err)
	}
	ca, err := pki.Inspect(caCert)
	if err != nil {
		return nil, nil, fmt.Errorf("cert issue: ca.crt: %w", err)
	}
	now := time.Now()
	if !now.Before(ca.NotAfter) {
		return nil, nil, fmt.Errorf("cert issue: the CA expired at %s: every certificate it issues is refused; make a new CA", ca.NotAfter.Format(time.RFC3339))
	}
	if end := now.Add(validity); end.After(ca.NotAfter) {
		return nil, nil, fmt.Errorf("cert issue: --validity %v ends after the CA, which expires at %s: ask for at most %v, or make a new CA",
			validity, ca.NotAfter.Format(time.RFC3339), ca.NotAfter.Sub(now).Truncate(time.Hour))
	}
	return caCert, caKey, nil
}

// writePair writes a private key (mode 0600) and its certificate (0644),
// each whole or not at all; without replace, neither may exist. Both are
// written to temporary files first, so a failure leaves the old pair (or
// none) in place.
func writePair(keyPath string, key []byte, certPath string, cert []byte, replace bool) error {
	keyTmp, err := writeTemp(keyPath, key, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(keyTmp)
	certTmp, err := writeTemp(certPath, cert, 0o644)
	if err != nil {
		return err
	}
	defer os.Remove(certTmp)
	if err := install(keyTmp, keyPath, replace); err != nil {
		return err
	}
	if err := install(certTmp, certPath, replace); err != nil {
		if !replace {
			os.Remove(keyPath) // the key without its certificate is of no use
		}
		return err
	}
	return syncDir(filepath.Dir(keyPath))
}

// writeTemp writes data to a new temporary file next to path, with mode
// perm set before a byte is written, synced; it returns its name. The
// name is unique (os.CreateTemp opens it with O_EXCL), so a file left by
// an earlier run is never reused, whatever its mode.
func writeTemp(path string, data []byte, perm fs.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// install moves a temporary file to path: with replace, atomically over
// whatever is there; without, only if nothing is (a hard link fails on
// an existing path, so a file created meanwhile is not overwritten).
func install(tmp, path string, replace bool) error {
	if replace {
		return os.Rename(tmp, path)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists: pass --force to replace it", path)
		}
		return err
	}
	return nil
}

// makeDir creates dir and its missing parents, durably: it syncs the
// parent of every directory on dir's path, so that a power loss does not
// take back a directory with the files synced in it (as persist.MakeDir,
// which ossd may not import; a relative dir is synced up to ".").
func makeDir(dir string) error {
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var parents []string
	for d := dir; d != "." && filepath.Base(d) != ".." && filepath.Dir(d) != d; d = filepath.Dir(d) {
		parents = append(parents, filepath.Dir(d))
	}
	for i := len(parents) - 1; i >= 0; i-- {
		if err := syncDir(parents[i]); err != nil {
			return fmt.Errorf("%w (%s must be synced to keep %s through a power loss: let this user read it, or choose a directory elsewhere)", err, parents[i], dir)
		}
	}
	return nil
}

// syncDir makes the directory's entries durable; tests replace it.
var syncDir = func(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
