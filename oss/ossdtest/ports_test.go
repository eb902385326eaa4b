package ossdtest

import (
	"fmt"
	"testing"
)

// A port is handed out once in a process, even when the kernel offers it
// again after its first holder closed it: a killed node's port stays its
// own for its restart while other tests pick ports alongside. Every
// socket bound to look is closed.
func TestPortsAreHandedOutOnce(t *testing.T) {
	offers := []int{40001, 40001, 40002, 40001, 40002, 40003}
	open := 0
	p := &ports{listen: func(network string) (string, func(), error) {
		if len(offers) == 0 {
			return "", nil, fmt.Errorf("no more offers")
		}
		port := offers[0]
		offers = offers[1:]
		open++
		return fmt.Sprintf("127.0.0.1:%d", port), func() { open-- }, nil
	}}
	var got []string
	for range 3 {
		addr, err := p.take("udp")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, addr)
	}
	want := []string{"127.0.0.1:40001", "127.0.0.1:40002", "127.0.0.1:40003"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("handed out %v, want %v", got, want)
	}
	if open != 0 {
		t.Errorf("%d sockets left open", open)
	}
}

// On real sockets, many addresses picked in a row are all distinct, of
// either network.
func TestFreePortsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i := range 200 {
		network := []string{"udp", "tcp"}[i%2]
		addr, err := freePort(network)
		if err != nil {
			t.Fatal(err)
		}
		if seen[network+addr] {
			t.Fatalf("%s %s handed out twice", network, addr)
		}
		seen[network+addr] = true
	}
}
