package main

import (
	"bufio"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// issuedFile is the CA's register of the certificates it issued, in the
// CA's directory: "ossd cert issue" appends a line for each certificate
// before it writes the certificate, and "ossd cert revoke" checks the
// name and serial it is given against it (see docs/design.md,
// "Certificate lifecycle"). A line is
//
//	SERIAL NAME ROLE NOTBEFORE NOTAFTER
//
// with the serial in hexadecimal and the times in RFC 3339. The register
// of a CA made before there was one begins when its first certificate
// since is issued, with the line partialMark: the certificates issued
// before are not in it.
const issuedFile = "issued"

const partialMark = "# partial: begun after the CA was made; the certificates it issued before are not listed"

// issuedCert is one line of the register.
type issuedCert struct {
	Serial              *big.Int
	Name, Role          string
	NotBefore, NotAfter time.Time
}

// createRegister creates dir's empty register, as "ossd ca init" does
// for a new CA.
func createRegister(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, issuedFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(dir)
}

// recordIssued appends a certificate to dir's register and syncs it. It
// creates the register of a CA made before there was one. A register it
// cannot read is refused, as "cert revoke" would refuse it, and nothing
// is written: appended to a last line cut short (a crash or a full disk
// during an earlier issue), the line joined it, and no certificate of
// the CA could be revoked until the file was mended by hand. A last line
// whole but for its newline gets one.
func recordIssued(dir string, info pki.CertInfo) error {
	path := filepath.Join(dir, issuedFile)
	old, statErr := os.ReadFile(path)
	if statErr != nil && !errors.Is(statErr, os.ErrNotExist) {
		return statErr
	}
	if _, _, err := readRegister(dir); statErr == nil && err != nil {
		return fmt.Errorf("%w: mend or remove that line (a last line cut short is of a certificate never written); nothing was written", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	line := ""
	if statErr != nil {
		line = partialMark + "\n"
	} else if len(old) > 0 && old[len(old)-1] != '\n' {
		line = "\n"
	}
	line += fmt.Sprintf("%s %s %s %s %s\n", info.Serial.Text(16), info.Name, orDefault(string(info.Role), "-"),
		info.NotBefore.UTC().Format(time.RFC3339), info.NotAfter.UTC().Format(time.RFC3339))
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if statErr != nil {
		return syncDir(dir)
	}
	return nil
}

// readRegister reads dir's register, and whether it is partial; an error
// matching os.ErrNotExist means dir has none.
func readRegister(dir string) (reg []issuedCert, partial bool, err error) {
	path := filepath.Join(dir, issuedFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if s := sc.Text(); strings.HasPrefix(s, "#") {
			partial = partial || s == partialMark
			continue
		}
		c, err := parseIssued(sc.Text())
		if err != nil {
			return nil, false, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		reg = append(reg, c)
	}
	if err := sc.Err(); err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	return reg, partial, nil
}

func parseIssued(line string) (issuedCert, error) {
	f := strings.Fields(line)
	if len(f) != 5 {
		return issuedCert{}, fmt.Errorf("%q: want SERIAL NAME ROLE NOTBEFORE NOTAFTER", line)
	}
	serial, ok := new(big.Int).SetString(f[0], 16)
	nb, err1 := time.Parse(time.RFC3339, f[3])
	na, err2 := time.Parse(time.RFC3339, f[4])
	if !ok || err1 != nil || err2 != nil {
		return issuedCert{}, fmt.Errorf("%q: want a hexadecimal serial and RFC 3339 times", line)
	}
	return issuedCert{Serial: serial, Name: f[1], Role: f[2], NotBefore: nb, NotAfter: na}, nil
}

// errNotIssued is the refusal of a revocation that names no certificate
// the register lists.
var errNotIssued = errors.New("the CA issued no such certificate")

// checkIssued returns the certificates of dir's register that a
// revocation of name (serial nil: all of them) would cover, or an error
// saying what the register does hold: the known names, or name's serials.
func checkIssued(dir, name string, serial *big.Int) ([]issuedCert, error) {
	reg, partial, err := readRegister(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s lists the certificates its CA issued, and there is none: give --ca-dir, the directory of the CA that issued them (\"ossd cert issue --dir\"); of a CA made before ossd kept the register, pass --unlisted to revoke a name unchecked",
			errNotIssued, filepath.Join(dir, issuedFile))
	}
	if err != nil {
		return nil, err
	}
	var ofName []issuedCert
	var names []string
	for _, c := range reg {
		if !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
		if c.Name == name && (serial == nil || c.Serial.Cmp(serial) == 0) {
			ofName = append(ofName, c)
		}
	}
	if len(ofName) > 0 {
		return ofName, nil
	}
	where := filepath.Join(dir, issuedFile)
	before := ""
	if partial {
		before = " (since its register began: pass --unlisted for one issued before)"
	}
	if serial != nil && slices.Contains(names, name) {
		var serials []string
		for _, c := range reg {
			if c.Name == name {
				serials = append(serials, c.Serial.Text(16))
			}
		}
		return nil, fmt.Errorf("%w: the CA of %s issued no certificate of %q with serial %s; it issued %q those of serials %s%s",
			errNotIssued, where, name, serial.Text(16), name, strings.Join(serials, ", "), before)
	}
	slices.Sort(names)
	known := "it has issued none"
	if len(names) > 0 {
		known = "it issued certificates to " + strings.Join(names, ", ")
	}
	return nil, fmt.Errorf("%w: the CA of %s never issued a certificate to %q; %s%s (a CA of another directory: --ca-dir DIR)",
		errNotIssued, where, name, known, before)
}
