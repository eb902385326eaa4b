package oss

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/objectsharing/oss/transport"
)

// A join whose dials were refused before their handshake, the member
// pacing this node's address as a stranger's (its certificate not of
// the cluster's CA, or another program's there), was told that no member
// answered and asked whether an OSS node listened there. It says what
// the member did, and stays one to try again (no ErrJoinRefused: the
// pace lets a handshake through now and then, and a refusal of the
// certificate then fails the join).
func TestJoinPacedAsAStrangerSaysSo(t *testing.T) {
	paced := fmt.Errorf("%w: 127.0.0.1:7000: dial failed: %w: a 127.0.0.1:7000: %w: CONNECTION_REFUSED (remote)",
		transport.ErrUnreachable, transport.ErrUnreachable, transport.ErrPacedAsStranger)
	all := []string{"127.0.0.1:7000"}
	err := (&Node{}).joinReached(all, []error{paced}, all)
	if err == nil || errors.Is(err, ErrJoinRefused) {
		t.Fatalf("a join paced as a stranger's: %v: want an error to try again", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:7000 refused this node's dial before its handshake") || strings.Contains(err.Error(), "is an OSS node listening there?") {
		t.Fatalf("a join paced as a stranger's: %v", err)
	}
}
