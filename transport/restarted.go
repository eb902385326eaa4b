package transport

import (
	"bytes"

	"github.com/quic-go/quic-go"
)

// closeRestarted closes, in the background, the live connections that
// have c's peer name, address and key, and whose peer no longer answers
// on them, once c's own peer has answered a ping: the node was killed
// and started again there on the key it had reloaded (SetTLS, ossd's
// SIGHUP) and connected with. Its stateless reset key derives from the
// key a process starts with, so the new process's resets do not match
// the old one's, and closeRekeyed leaves connections of the new key
// alone: they were kept until their idle timeout (30 s), every message
// and datagram to the node went into them meanwhile, and a node restarted
// after a certificate rotation by SIGHUP was out of its peers' reach for
// that long. Connections with this node's own name (a node that reaches
// itself) are left alone, and so are all of them when c's peer answers
// no ping (it proves nothing); a peer that still answers on an older
// connection (the same process: both ends dialled at once) keeps it. It
// runs beside c's service, which it does not hold up.
func (t *QUIC) closeRestarted(c *quic.Conn) {
	name, addr, key := peerName(c), c.RemoteAddr().String(), peerKey(c)
	if name == t.cfg.Name {
		return
	}
	t.mu.Lock()
	var old []*quic.Conn
	for o := range t.conns {
		if o != c && o.Context().Err() == nil && peerName(o) == name && o.RemoteAddr().String() == addr && bytes.Equal(peerKey(o), key) {
			old = append(old, o)
		}
	}
	t.mu.Unlock()
	if len(old) == 0 {
		return
	}
	t.wg.Go(func() {
		if ok, life := t.answers(c); !ok || len(life) == 0 {
			return
		}
		for _, o := range old {
			if ok, _ := t.answers(o); ok || t.ctx.Err() != nil {
				continue
			}
			t.log.Info("connection closed: its peer no longer answers there and connected again from its address", "peer", name, "addr", addr)
			o.CloseWithError(0, "the peer connected again")
		}
	})
}
