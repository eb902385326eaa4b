package ossdtest

import (
	"fmt"
	"net"
	"sync"
)

// ports hands out loopback addresses that were free when picked, each at
// most once in the life of the process. A node's addresses stay its own
// after it exits: Restart starts it there again, and tests running in
// parallel in one binary must not be handed a port of another test's
// killed node in between.
type ports struct {
	mu   sync.Mutex
	used map[string]bool // "udp/127.0.0.1:40123"
	// listen binds a loopback socket of the network on a port the kernel
	// picks (net.ListenPacket or net.Listen at :0).
	listen func(network string) (addr string, close func(), err error)
}

var loopbackPorts = &ports{listen: listenLoopback}

// freePort returns a loopback address whose port was free a moment ago
// and that this process has handed out for no other node.
func freePort(network string) (string, error) { return loopbackPorts.take(network) }

// take picks an address of network that was never handed out before. The
// sockets bound for the addresses refused stay open until one is found,
// so the kernel cannot offer the same port again meanwhile.
func (p *ports) take(network string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var held []func()
	defer func() {
		for _, c := range held {
			c()
		}
	}()
	for range 1000 {
		addr, closeFn, err := p.listen(network)
		if err != nil {
			return "", err
		}
		held = append(held, closeFn)
		if key := network + "/" + addr; !p.used[key] {
			if p.used == nil {
				p.used = map[string]bool{}
			}
			p.used[key] = true
			return addr, nil
		}
	}
	return "", fmt.Errorf("ossdtest: no %s port on loopback that was not handed out before", network)
}

func listenLoopback(network string) (string, func(), error) {
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		return pc.LocalAddr().String(), func() { pc.Close() }, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	return ln.Addr().String(), func() { ln.Close() }, nil
}

// FreeUDP returns a loopback UDP address free a moment ago that this
// process hands out for nothing else: a node's new address when it is
// restarted elsewhere (Proc.Addr), never one a node of a test running
// alongside holds between its restarts.
func FreeUDP() (string, error) { return freePort("udp") }
