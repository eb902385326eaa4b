package transport

// SetTestAskGroup sets the seam before askGroup asks a peer its group;
// nil removes it.
func SetTestAskGroup(f func(*QUIC)) {
	if f == nil {
		testAskGroup.Store(nil)
		return
	}
	testAskGroup.Store(&f)
}
