package admin

import (
	"errors"
	"syscall"
)

// refusedHint is what a "no node answers" error adds when every address
// refused the connection: nothing listens there. The likeliest slip is
// the node's QUIC address (ossd run --listen, UDP, which --join takes)
// given where its admin address belongs; before, the error said only
// "connection refused".
func refusedHint(err error) string {
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return ""
	}
	return " (nothing listens there: is the node running, and is this its admin address, ossd run's --http, not its --listen?)"
}
