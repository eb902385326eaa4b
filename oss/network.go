package oss

import (
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/transport"
)

// netDirectory is membership on an in-process network (Config.Transport):
// every node announces the record gossip would carry (its raft ID, role,
// whether it is leaving), and the network says whom each node sees.
type netDirectory struct {
	n  *Node
	nw transport.Network
}

// live implements directory: the node itself first, then the peers whose
// records decode.
func (d netDirectory) live() []peerInfo {
	out := []peerInfo{d.n.selfInfo()}
	for _, p := range d.nw.Live(d.n.cfg.Name) {
		var meta memberMeta
		if p.Name == d.n.cfg.Name || codec.Unmarshal(p.Meta, &meta) != nil || meta.ID == 0 {
			continue
		}
		out = append(out, peerInfo{Name: p.Name, ID: meta.ID, Role: pki.Role(meta.Role), Leaving: meta.Leaving})
	}
	return out
}

// members lists what Node.Members shows on such a network.
func (d netDirectory) members() []Member {
	out := []Member{{Name: d.n.cfg.Name, Role: d.n.cfg.Role, Version: Version()}}
	for _, p := range d.nw.Live(d.n.cfg.Name) {
		var meta memberMeta
		if p.Name == d.n.cfg.Name || codec.Unmarshal(p.Meta, &meta) != nil {
			continue
		}
		out = append(out, Member{Name: p.Name, Role: pki.Role(meta.Role), Version: meta.Version})
	}
	return out
}

// announce publishes the node's record on its in-process network, if it
// runs on one.
func (n *Node) announce() {
	nw := n.cfg.Transport
	if nw == nil || n.tr == nil {
		return
	}
	meta := memberMeta{Role: string(n.cfg.Role), ID: n.id, Leaving: n.leaving.Load(), Version: Version()}
	b, err := codec.Marshal(meta)
	if err != nil {
		n.log.Error("encoding the node's membership record", "err", err)
		return
	}
	nw.Announce(n.cfg.Name, b)
}
