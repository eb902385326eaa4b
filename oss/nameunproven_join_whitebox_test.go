package oss

import (
	"errors"
	"fmt"
	"testing"

	"github.com/objectsharing/oss/transport"
)

// A connection a member turned away only for now, because this node's
// answer to its ping came late (transport.ErrNameUnproven: a node that
// reaches it by a second path, on a starved machine), is no refusal of
// the join, whether the dial, membership's join (which keeps only the
// error's text) or the catalog's join saw it: the node tries again. It
// was refused for good as a second holder of its own name
// (transport.ErrNameTaken, ErrJoinRefused).
func TestJoinNotYetTakenIsNoRefusal(t *testing.T) {
	const addr = "127.0.0.1:7401"
	reason := `node "b" is connected from 127.0.0.1:7402 and answers there, and the connection with its certificate from 127.0.0.1:7403 did not answer a ping within 2s to show it is that process: not taken yet, try again`
	dialled := fmt.Errorf("%s: %w: %s", addr, transport.ErrNameUnproven, reason)
	if !errors.Is(dialled, transport.ErrUnreachable) || errors.Is(dialled, transport.ErrNameTaken) {
		t.Fatalf("transport.ErrNameUnproven: %v; want it to match ErrUnreachable, not ErrNameTaken", dialled)
	}
	if err := refusedAt(addr, dialled); err != nil {
		t.Errorf("refusedAt: %v, want no refusal", err)
	}
	joined := fmt.Errorf("1 error occurred:\n\t* failed to join %s: %s\n\n", addr, dialled)
	if err := nameTakenJoin(joined); err != nil {
		t.Errorf("nameTakenJoin: %v, want no refusal", err)
	}
}
