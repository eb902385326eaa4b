package ossdtest

import (
	"context"
	"path/filepath"
)

// Reserve issues a certificate for name and picks its addresses without
// starting it: others can name it in --join before it runs, and Restart
// starts it.
func (c *Cluster) Reserve(ctx context.Context, name string) (*Proc, error) {
	if err := c.ossd(ctx, "cert", "issue", "--dir", c.Certs(), "--name", name); err != nil {
		return nil, err
	}
	udp, err := freePort("udp")
	if err != nil {
		return nil, err
	}
	tcp, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	p := &Proc{Name: name, Addr: udp, Peer: udp, HTTP: tcp, Log: filepath.Join(c.Dir, name+".log"), done: make(chan struct{})}
	close(p.done)
	return p, nil
}
