package transport

// DirectWrites reports how many messages to the named peer Send and
// SendControl wrote to the stream themselves (sendDirect).
func (t *QUIC) DirectWrites(to string) uint64 {
	p, err := t.peer(to)
	if err != nil {
		return 0
	}
	return p.bulk.directs.Load() + p.control.directs.Load()
}

// Queued reports the bytes queued or being written for the named peer,
// on both its queues.
func (t *QUIC) Queued(to string) int64 {
	p, err := t.peer(to)
	if err != nil {
		return 0
	}
	return p.bulk.bytes.Load() + p.control.bytes.Load()
}
