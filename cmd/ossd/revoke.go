package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

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
// certificate of NAME issued until now.
func certRevoke(args []string) error {
	fs, dial := clientFlags("ossd cert revoke")
	serial := fs.String("serial", "", "the serial number (hex) of the one certificate to revoke, as \"ossd cert issue\" printed it")
	certFile := fs.String("cert", "", "revoke the certificate in this file (its name and serial)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	name := ""
	if len(pos) == 1 {
		name = pos[0]
	} else if len(pos) > 1 {
		return errors.New("cert revoke: want one NAME")
	}
	if *certFile != "" {
		if *serial != "" {
			return errors.New("cert revoke: give --serial or --cert, not both")
		}
		b, err := os.ReadFile(*certFile)
		if err != nil {
			return fmt.Errorf("cert revoke: %w", err)
		}
		info, err := pki.Inspect(b)
		if err != nil {
			return fmt.Errorf("cert revoke: %s: %w", *certFile, err)
		}
		if name != "" && name != info.Name {
			return fmt.Errorf("cert revoke: %s is the certificate of %q, not %q", *certFile, info.Name, name)
		}
		name, *serial = info.Name, info.Serial.Text(16)
	}
	if name == "" {
		return errors.New("cert revoke: want NAME (and --serial HEX to revoke one certificate of it), or --cert FILE")
	}
	if err := pki.CheckName(name); err != nil {
		return fmt.Errorf("cert revoke: %w", err)
	}
	if *serial != "" {
		if _, err := admin.ParseSerial(*serial); err != nil {
			return fmt.Errorf("cert revoke: --serial: %w", err)
		}
	}
	ctx, c, done, err := connect(dial)
	if err != nil {
		return err
	}
	defer done()
	rev, err := c.Revoke(ctx, name, *serial)
	if err != nil {
		return fmt.Errorf("cert revoke: %w", err)
	}
	if rev.Serial == "" {
		fmt.Printf("revoked every certificate of %s issued until %s; issue its new one from now on\n", rev.Name, rev.At.Format(time.RFC3339))
	} else {
		fmt.Printf("revoked the certificate of %s with serial %s\n", rev.Name, rev.Serial)
	}
	return nil
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
