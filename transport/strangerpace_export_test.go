package transport

import "net/netip"

// FreezeStrangerPaces keeps t's paces of strangers' addresses from
// filling up over time and from being forgotten: a token comes back
// only from a handshake that verified. A flood slowed by a loaded
// machine keeps a pace it emptied empty.
func (t *QUIC) FreezeStrangerPaces() {
	t.strangers.mu.Lock()
	defer t.strangers.mu.Unlock()
	t.strangers.frozen = true
}

// StrangerTokens returns the tokens of the pace of addr's IP address
// ("ip:port"), -1 if it is not paced.
func (t *QUIC) StrangerTokens(addr string) float64 {
	ap := netip.MustParseAddrPort(addr)
	t.strangers.mu.Lock()
	defer t.strangers.mu.Unlock()
	if s := t.strangers.ips[paceKey(ap.Addr().Unmap())]; s != nil {
		return s.tokens
	}
	return -1
}
