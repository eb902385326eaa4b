package transporttest

import (
	"net"
	"testing"
	"time"
)

// recvAll reads datagrams until none arrives for a while.
func recvAll(t *testing.T, pc net.PacketConn) []string {
	t.Helper()
	var out []string
	buf := make([]byte, 1500)
	for {
		pc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			return out
		}
		out = append(out, string(buf[:n]))
	}
}

func TestFaultConn(t *testing.T) {
	src, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dst, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	fc := NewFaultConn(src, 1)
	send := func(msgs ...string) {
		for _, m := range msgs {
			if n, err := fc.WriteTo([]byte(m), dst.LocalAddr()); err != nil || n != len(m) {
				t.Fatalf("write %q: %d, %v", m, n, err)
			}
		}
	}
	send("plain")
	if got := recvAll(t, dst); len(got) != 1 || got[0] != "plain" {
		t.Fatalf("without faults: %v", got)
	}
	fc.SetFaults(PacketFaults{Drop: 1})
	send("a", "b")
	fc.SetFaults(PacketFaults{Blocked: map[string]bool{dst.LocalAddr().String(): true}})
	send("c")
	if got := recvAll(t, dst); len(got) != 0 {
		t.Fatalf("dropped and blocked datagrams arrived: %v", got)
	}
	fc.SetFaults(PacketFaults{Duplicate: 1})
	send("d")
	if got := recvAll(t, dst); len(got) != 2 || got[0] != "d" || got[1] != "d" {
		t.Fatalf("duplicated: %v", got)
	}
	// Delays reorder: of 50 datagrams some arrive out of order, all arrive.
	fc.SetFaults(PacketFaults{MaxDelay: 20 * time.Millisecond})
	for i := range 50 {
		send(string(rune('A' + i)))
	}
	got := recvAll(t, dst)
	inOrder := true
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			inOrder = false
		}
	}
	if len(got) != 50 || inOrder {
		t.Fatalf("delayed: %d datagrams, in order %v", len(got), inOrder)
	}
	st := fc.Stats()
	if st.Dropped != 2 || st.Blocked != 1 || st.Duplicated != 1 || st.Delayed < 45 {
		t.Fatalf("stats %+v", st)
	}
	// Close waits for what is still delayed.
	fc.SetFaults(PacketFaults{MaxDelay: 50 * time.Millisecond})
	send("late")
	if err := fc.Close(); err != nil {
		t.Fatal(err)
	}
}
