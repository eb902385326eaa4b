package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
)

// certsMissing says what to do about file, one of ca.crt, NAME.crt and
// NAME.key, that readCerts could not read from dir. A ca.crt missing
// means --certs names the wrong directory. A player's certificate
// missing is issued where the CA's key is: dir itself if it holds
// ca.key, else the CA's directory, the certificate then copied into dir
// (a window's local cluster keeps no ca.key beside its certificates: it
// issued its players' when it started, and the error lists them).
func certsMissing(dir, name, file string, err error) error {
	if file == "ca.crt" {
		return fmt.Errorf("certificates for %q: %w (--certs names the directory holding the cluster's ca.crt and the player's %s.crt and %s.key)", name, err, name, name)
	}
	if _, kerr := os.Stat(filepath.Join(dir, "ca.key")); kerr == nil {
		return fmt.Errorf("certificates for %q: %w (issue one with: ossd cert issue --dir %s --name %s --role client)", name, err, dir, name)
	}
	how := fmt.Sprintf("%s holds no CA key: issue one where the cluster's CA is, ossd cert issue --dir CA_DIR --name %s --role client, and copy %s.crt and %s.key into %s", dir, name, name, name, dir)
	if players := clientCerts(dir); len(players) > 0 {
		how += fmt.Sprintf("; it holds players' certificates for %s: --name one of them", strings.Join(players, ", "))
	}
	return fmt.Errorf("certificates for %q: %w (%s)", name, err, how)
}

// clientCerts lists, sorted, the names of the client certificates in dir
// whose key is beside them.
func clientCerts(dir string) []string {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.crt"))
	var names []string
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".crt")
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		info, err := pki.Inspect(b)
		if err != nil || info.Role != pki.RoleClient || info.Name != name {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, name+".key")); err == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// permissionFailure says which grant a player's node lacks. A player
// writes the world, so read alone, which the refusal of its first call
// (opening the heap) names, is not enough: the grant to make is write,
// or admin where the world's heap is still to be created.
func permissionFailure(name, where string, err error) string {
	var pe *oss.PermissionError
	if !errors.As(err, &pe) || pe.Heap == "" {
		return fmt.Sprintf("the cluster at %s does not let %q in: grant it write on the world's heap (ossd acl grant --perm write)", where, name)
	}
	perm := oss.PermWrite
	if pe.Perm == oss.PermAdmin {
		perm = oss.PermAdmin
	}
	return fmt.Sprintf("the cluster at %s does not let %q in: a player needs %s on heap %q (ossd acl grant --to %s --heap %s --perm %s)", where, name, perm, pe.Heap, name, pe.Heap, perm)
}
