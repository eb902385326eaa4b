package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

func caInit(args []string) error {
	fs := flag.NewFlagSet("ossd ca init", flag.ContinueOnError)
	dir := fs.String("dir", "certs", "directory to write ca.crt and ca.key to")
	name := fs.String("name", "oss cluster CA", "the CA's common name")
	validity := fs.Duration("validity", 10*365*24*time.Hour, "how long the CA is valid")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	certPath, keyPath := filepath.Join(*dir, "ca.crt"), filepath.Join(*dir, "ca.key")
	if _, err := os.Stat(keyPath); err == nil {
		return fmt.Errorf("%s exists: a CA is already there (remove it to start a new cluster)", keyPath)
	}
	cert, key, err := pki.NewCA(*name, *validity)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	if err := writeFile(keyPath, key, 0o600); err != nil {
		return err
	}
	if err := writeFile(certPath, cert, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %s; keep ca.key offline\n", certPath, keyPath)
	return nil
}

func certIssue(args []string) error {
	fs := flag.NewFlagSet("ossd cert issue", flag.ContinueOnError)
	dir := fs.String("dir", "certs", "directory holding ca.crt and ca.key; NAME.crt and NAME.key are written there")
	name := fs.String("name", "", "the node's or the operator's name (required)")
	role := fs.String("role", string(pki.RoleServer), `"server" or "client" for a node, "admin" for an operator of the admin interface (ossd's CLI: --user NAME)`)
	validity := fs.Duration("validity", 365*24*time.Hour, "how long the certificate is valid")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return errors.New("cert issue: --name is required")
	}
	caCert, err := os.ReadFile(filepath.Join(*dir, "ca.crt"))
	if err != nil {
		return fmt.Errorf("cert issue: %w (run \"ossd ca init --dir %s\" first)", err, *dir)
	}
	caKey, err := os.ReadFile(filepath.Join(*dir, "ca.key"))
	if err != nil {
		return fmt.Errorf("cert issue: %w", err)
	}
	cert, key, err := pki.IssueCert(caCert, caKey, *name, pki.Role(*role), *validity)
	if err != nil {
		return fmt.Errorf("cert issue: %w", err)
	}
	certPath, keyPath := filepath.Join(*dir, *name+".crt"), filepath.Join(*dir, *name+".key")
	if err := writeFile(keyPath, key, 0o600); err != nil {
		return err
	}
	if err := writeFile(certPath, cert, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %s\n", certPath, keyPath)
	return nil
}

// writeFile writes a file whole or not at all.
func writeFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
