package transport

import "testing"

// An endpoint that takes its group (its node takes the cluster's ID from
// the members it joins) between two pings answers them with the same
// life, the first without a group, the second with it: the checks of
// one process reached by two paths, and of this node's own name, must
// see one endpoint, where comparing the whole answers refused the second
// connection as another holder of the certificate.
func TestAnEndpointIsOneAcrossItsGroupChange(t *testing.T) {
	e := &QUIC{life: newLife()}
	before := e.pingAnswer()
	e.SetGroup(0x5eed)
	after := e.pingAnswer()
	if len(before) == len(after) {
		t.Fatalf("the answer before the group (%d bytes) and after (%d): want the group carried after it", len(before), len(after))
	}
	if !sameLife(before, after) || !sameLife(after, e.life) || !sameLife(before, e.life) {
		t.Fatalf("one endpoint's answers %x and %x and its life %x are taken for two endpoints", before, after, e.life)
	}
	other := &QUIC{life: newLife()}
	other.SetGroup(0x5eed)
	if sameLife(after, other.pingAnswer()) {
		t.Fatal("two endpoints of one group taken for one")
	}
}
