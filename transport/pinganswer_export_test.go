package transport

import "net"

// SetTestBeforePingAnswer sets the seam before an endpoint answers a
// ping (nil removes it): it is given the endpoint and the address of the
// peer whose connection the ping came on, for the tests of package
// transport_test.
func SetTestBeforePingAnswer(f func(*QUIC, net.Addr)) {
	if f == nil {
		testBeforePingAnswer.Store(nil)
		return
	}
	testBeforePingAnswer.Store(&f)
}
