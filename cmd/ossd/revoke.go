package main

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"text/tabwriter"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/pki"
)

// certCommand runs "ossd cert issue|revoke|revocations".
func certCommand(args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "issue":
			return certIssue(args[1:])
		case "revoke":
			return certRevoke(args[1:])
		case "revocations":
			return certRevocations(args[1:])
		}
		if isHelp(args[0]) {
			return subcommandHelp("cert") // synopsis.go
		}
	}
	return errors.New(`"cert" takes the subcommand "issue", "revoke" or "revocations"`)
}

// certRevoke revokes a certificate through a node's admin interface:
// NAME's certificate with --serial, the one in --cert, or every
// certificate of NAME issued until now. NAME, and the serial, must be in
// the register of the CA that issued them (issued.go), so that a typo
// is refused rather than recorded while the node meant stays trusted. A
// certificate revoked already is reported, and nothing is recorded; so
// is a revocation by name when every certificate of NAME the register
// lists is revoked already (revokedAllAlready).
func certRevoke(args []string) error {
	fs, dial := clientFlags("ossd cert revoke")
	serial := fs.String("serial", "", "the serial number (hex) of the one certificate to revoke, as \"ossd cert issue\" printed it")
	certFile := fs.String("cert", "", "revoke the certificate in this file (its name and serial)")
	caDir := fs.String("ca-dir", "", "the directory of the CA that issued the certificate (\"ossd cert issue --dir\"): NAME and the serial must be in its register, DIR/issued (default: --certs)")
	unlisted := fs.Bool("unlisted", false, "revoke without checking the CA's register (of a CA made before ossd kept one)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	t, err := revokeTarget(pos, *serial, *certFile)
	if err != nil {
		return fmt.Errorf("cert revoke: %w", err)
	}
	var listed []issuedCert // NAME's certificates, for a revocation by name of a whole register
	if !*unlisted {
		dir := *caDir
		if dir == "" {
			dir = fs.Lookup("certs").Value.String()
		}
		if listed, err = checkIssued(dir, t.name, t.serial); err != nil {
			return fmt.Errorf("cert revoke: %w", err)
		}
		if t.serial != nil && t.notBefore.IsZero() {
			t.notBefore = listed[0].NotBefore
		}
		if _, partial, _ := readRegister(dir); partial || t.serial != nil {
			listed = nil
		}
	}
	ctx, c, done, err := connect(dial)
	if err != nil {
		return err
	}
	defer done()
	if t.serial != nil {
		if r, ok, err := revokedAlready(ctx, c, t); err != nil || ok {
			return reportRevokedAlready(t, r, err)
		}
	}
	if len(listed) > 0 {
		if r, ok, err := revokedAllAlready(ctx, c, t.name, listed); err != nil || ok {
			return reportAllRevokedAlready(t.name, len(listed), r, err)
		}
	}
	rev, err := c.Revoke(ctx, t.name, serialHex(t.serial))
	if err != nil {
		return outcomeUnknown(fmt.Errorf("cert revoke: %w", err), "ossd cert revocations") // unknownmsg.go
	}
	if rev.Serial == "" {
		fmt.Printf("revoked every certificate of %s issued until %s; issue its new one from now on\n", rev.Name, rev.At.Format(time.RFC3339))
		return revokeIssuedLater(ctx, c, rev, listed)
	} else {
		fmt.Printf("revoked the certificate of %s with serial %s\n", rev.Name, rev.Serial)
	}
	return nil
}

// revokeIssuedLater revokes by serial each certificate of listed, those
// of rev.Name the CA's register lists, that the revocation by name rev
// does not cover: issued after its cutoff (At), which the clock of the
// node that recorded it set, the CA host's clock running ahead of that
// node's. Without it, such a certificate stayed valid while the command
// reported every certificate of the name revoked.
func revokeIssuedLater(ctx context.Context, c *admin.Client, rev admin.Revocation, listed []issuedCert) error {
	for _, ic := range listed {
		if _, ok := coveredBy([]admin.Revocation{rev}, revocationTarget{name: rev.Name, serial: ic.Serial, notBefore: ic.NotBefore}); ok {
			continue
		}
		fmt.Printf("the certificate of %s with serial %s was issued at %s, after that cutoff by the clock of %s, which runs behind the CA host's: revoking it by serial; check that node's clock\n",
			rev.Name, ic.Serial.Text(16), ic.NotBefore.Add(pki.Backdate).UTC().Format(time.RFC3339), rev.By)
		if _, err := c.Revoke(ctx, rev.Name, serialHex(ic.Serial)); err != nil {
			return outcomeUnknown(fmt.Errorf("cert revoke: the certificate of %s with serial %s: %w", rev.Name, ic.Serial.Text(16), err), "ossd cert revocations")
		}
	}
	return nil
}

// revocationTarget is what "ossd cert revoke" is asked to revoke: the
// certificates of name, or its one with serial, issued at notBefore
// when that is known.
type revocationTarget struct {
	name      string
	serial    *big.Int
	notBefore time.Time
}

// revokeTarget checks the arguments of "ossd cert revoke": the NAME
// given, the --serial and the --cert file.
func revokeTarget(pos []string, serial, certFile string) (revocationTarget, error) {
	var t revocationTarget
	if len(pos) == 1 {
		t.name = pos[0]
	} else if len(pos) > 1 {
		return t, errors.New("want one NAME")
	}
	if certFile != "" {
		if serial != "" {
			return t, errors.New("give --serial or --cert, not both")
		}
		b, err := os.ReadFile(certFile)
		if err != nil {
			return t, err
		}
		info, err := pki.Inspect(b)
		if err != nil {
			return t, fmt.Errorf("%s: %w", certFile, err)
		}
		if t.name != "" && t.name != info.Name {
			return t, fmt.Errorf("%s is the certificate of %q, not %q", certFile, info.Name, t.name)
		}
		return revocationTarget{name: info.Name, serial: info.Serial, notBefore: info.NotBefore}, pki.CheckName(info.Name)
	}
	if t.name == "" {
		return t, errors.New("want NAME (and --serial HEX to revoke one certificate of it), or --cert FILE")
	}
	if err := pki.CheckName(t.name); err != nil {
		return t, err
	}
	if serial != "" {
		s, err := admin.ParseSerial(serial)
		if err != nil {
			return t, fmt.Errorf("--serial: %w", err)
		}
		t.serial = s
	}
	return t, nil
}

// revokedAlready returns the revocation the cluster holds that covers
// t's one certificate, if there is one: by its serial, or by its name
// when t's issue time is known.
func revokedAlready(ctx context.Context, c *admin.Client, t revocationTarget) (admin.Revocation, bool, error) {
	rs, err := c.Revocations(ctx)
	if err != nil {
		return admin.Revocation{}, false, err
	}
	r, ok := coveredBy(rs, t)
	return r, ok, nil
}

// coveredBy returns the revocation of rs that covers t's one
// certificate, if there is one.
func coveredBy(rs []admin.Revocation, t revocationTarget) (admin.Revocation, bool) {
	for _, r := range rs {
		if r.Name != t.name {
			continue
		}
		if r.Serial == "" {
			if !t.notBefore.IsZero() && (oss.Revocation{Name: r.Name, At: r.At}).Covers(t.name, t.serial, t.notBefore) {
				return r, true
			}
			continue
		}
		if s, err := admin.ParseSerial(r.Serial); err == nil && s.Cmp(t.serial) == 0 {
			return r, true
		}
	}
	return admin.Revocation{}, false
}

// revokedAllAlready returns the revocation by name of name the cluster
// holds, and ok true if it and the revocations by serial cover every
// certificate of listed, those of name the CA's register lists: a
// revocation by name again would move its cutoff and revoke nothing
// more.
func revokedAllAlready(ctx context.Context, c *admin.Client, name string, listed []issuedCert) (admin.Revocation, bool, error) {
	rs, err := c.Revocations(ctx)
	if err != nil {
		return admin.Revocation{}, false, err
	}
	var byName admin.Revocation
	for _, ic := range listed {
		r, ok := coveredBy(rs, revocationTarget{name: name, serial: ic.Serial, notBefore: ic.NotBefore})
		if !ok {
			return admin.Revocation{}, false, nil
		}
		if r.Serial == "" {
			byName = r
		}
	}
	return byName, byName.Name != "", nil
}

func reportAllRevokedAlready(name string, n int, r admin.Revocation, err error) error {
	if err != nil {
		return fmt.Errorf("cert revoke: list the revocations: %w", err)
	}
	fmt.Printf("every certificate of %s the CA issued (%d) is revoked already, by the revocation of those issued until %s by %s: nothing to do; its cutoff stays\n",
		name, n, r.At.Format(time.RFC3339), r.By)
	fmt.Printf("(a certificate of %s issued since without this register, by a copy of the CA, is not covered: --unlisted records the revocation anew, up to now)\n", name)
	return nil
}

func reportRevokedAlready(t revocationTarget, r admin.Revocation, err error) error {
	if err != nil {
		return fmt.Errorf("cert revoke: list the revocations: %w", err)
	}
	how := "by its serial"
	if r.Serial == "" {
		how = "with every certificate of " + r.Name + " issued until then"
	}
	fmt.Printf("the certificate of %s with serial %s was revoked already, %s, at %s by %s: nothing to do\n",
		t.name, t.serial.Text(16), how, r.At.Format(time.RFC3339), r.By)
	return nil
}

func serialHex(s *big.Int) string {
	if s == nil {
		return ""
	}
	return s.Text(16)
}

func certRevocations(args []string) error {
	fs, dial := clientFlags("ossd cert revocations")
	asJSON := fs.Bool("json", false, "print the revocations as JSON")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	ctx, c, done, err := connect(dial)
	if err != nil {
		return err
	}
	defer done()
	rs, err := c.Revocations(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(rs)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NAME\tSERIAL\tAT\tBY\n")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, orDefault(r.Serial, "(all issued until then)"), r.At.Format(time.RFC3339), r.By)
	}
	return tw.Flush()
}
