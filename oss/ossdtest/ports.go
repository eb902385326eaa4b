package ossdtest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
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

// listenLoopback binds a loopback socket of network on a port below the
// kernel's ephemeral range, which no bind at :0 and no outgoing
// connection of any process is given: a node's port, free between its
// kill and its restart or before its process first binds it, is then
// taken only by another test that picks ports of its own. A port the
// kernel picked (:0) is in that range, and another test binary (go test
// runs two packages at once) or the QUIC and HTTP clients of this one
// could be handed it meanwhile. Where the range is unknown, or leaves
// too little below it, the kernel picks.
func listenLoopback(network string) (string, func(), error) {
	if lo := ephemeralLow(); lo-belowEphemeral >= 1024 {
		for range 100 {
			port := lo - belowEphemeral + rand.IntN(belowEphemeral)
			addr, closeFn, err := bindLoopback(network, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err == nil {
				return addr, closeFn, nil
			}
		}
	}
	return bindLoopback(network, "127.0.0.1:0")
}

// belowEphemeral is how many ports under the ephemeral range
// listenLoopback picks from: 16384 to 32767 under Linux's default
// range (32768 to 60999).
const belowEphemeral = 1 << 14

// ephemeralLow returns the first port of the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), or 0 if it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return lo
}

func bindLoopback(network, addr string) (string, func(), error) {
	if network == "udp" {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return "", nil, err
		}
		return pc.LocalAddr().String(), func() { pc.Close() }, nil
	}
	ln, err := net.Listen("tcp", addr)
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
