package oss

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/objectsharing/oss/transport"
)

// A second node started under a live name is refused at its first
// connection to a member the live one is connected to. The error names
// that member, as a refused certificate's does, so that the user knows
// whose log to read and which cluster holds the name; it said only
// "join refused: transport: this node's name is connected from another
// address: ...". The text is memberlist's, as its Join returns it: a list
// with one line an address.
func TestJoinNameTakenNamesTheMemberThatRefused(t *testing.T) {
	taken := `node "n2" is connected from 127.0.0.1:7402 and answers there`
	one := fmt.Errorf("1 error occurred:\n\t* failed to join 127.0.0.1:7401: %s: %s\n\n", transport.ErrNameTaken, taken)
	two := fmt.Errorf("2 errors occurred:\n\t* failed to join 127.0.0.1:7403: read: timeout\n\t* failed to join 127.0.0.1:7401: %s: %s\n\n", transport.ErrNameTaken, taken)
	for _, in := range []error{one, two} {
		err := nameTakenJoin(in)
		if !errors.Is(err, ErrJoinRefused) {
			t.Fatalf("nameTakenJoin(%q) = %v, want ErrJoinRefused", in, err)
		}
		if want := "127.0.0.1:7401: " + transport.ErrNameTaken.Error() + ": " + taken; !strings.Contains(err.Error(), want) {
			t.Errorf("refused with %q; want it to contain %q", err, want)
		}
	}
	silent := errors.New("1 error occurred:\n\t* failed to join 127.0.0.1:7401: read: timeout\n\n")
	if err := nameTakenJoin(silent); err != nil {
		t.Errorf("a member that does not answer: %v, want no refusal", err)
	}
}
