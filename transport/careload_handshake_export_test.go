package transport

// SetTestBeforeTrack sets the seam between an accepted connection's
// handshake and its tracking (nil removes it), for the tests of package
// transport_test.
func SetTestBeforeTrack(f func(*QUIC)) {
	if f == nil {
		testBeforeTrack.Store(nil)
		return
	}
	testBeforeTrack.Store(&f)
}
