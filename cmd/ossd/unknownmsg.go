package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/objectsharing/oss/oss"
)

// unknownPhrase is what every failure whose write may have been carried
// out says, as the README and "ossd put -h" quote it.
const unknownPhrase = "its outcome is unknown"

// outcomeUnknown words a write the node answered with an unknown outcome
// (504: its commit reached the log, and no decision came in time) as the
// CLI words one the node gave no answer to, readBack the command that
// reads what the write changed. The node's own answer said only "commit
// outcome unknown" and which voters were down, so a put carried out
// after its node answered was tried again blind. Other errors are
// returned as they are.
//
// Only the commands that write call it (put, heaps create and drop, acl
// grant and revoke, cert revoke): given every command's error, it told
// a node's start ("ossd run") to read its write back.
//
// A write the node's disk refused, nothing committed (oss.ErrDisk), is
// told so instead (explainDisk, diskmsg.go).
func outcomeUnknown(err error, readBack string) error {
	if errors.Is(err, oss.ErrDisk) {
		return explainDisk(err)
	}
	if !errors.Is(err, oss.ErrCommitUnknown) || strings.Contains(err.Error(), unknownPhrase) {
		return err
	}
	return fmt.Errorf("%w\n%s: the node may have carried it out; read it back (%s) before trying again", err, unknownPhrase, readBack)
}
