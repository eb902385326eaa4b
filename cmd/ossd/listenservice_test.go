package main

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// udpService returns the name of a UDP service /etc/services lists,
// "domain" if it lists none (Go's resolver knows that one without it).
func udpService(t *testing.T) string {
	f, err := os.Open("/etc/services")
	if err != nil {
		t.Logf("/etc/services: %v; using domain", err)
		return "domain"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && !strings.HasPrefix(fields[0], "#") && strings.HasSuffix(fields[1], "/udp") {
			return fields[0]
		}
	}
	return "domain"
}

// A --listen whose port is a UDP service's name is taken, as the
// transport takes it (net.ListenPacket resolves it): "ossd run" refused
// it, wanting a number, until 2026-12-06. A name no service has is
// still refused, naming the flag.
func TestRunTakesAListenPortByServiceName(t *testing.T) {
	svc := udpService(t)
	var f runFlags
	if err := f.parse([]string{"--listen", "127.0.0.1:" + svc}); err != nil {
		t.Fatalf("run --listen 127.0.0.1:%s: %v", svc, err)
	}
	var g runFlags
	err := g.parse([]string{"--listen", "127.0.0.1:no-such-service-here"})
	if err == nil || !strings.Contains(err.Error(), `--listen "127.0.0.1:no-such-service-here"`) {
		t.Fatalf("run --listen 127.0.0.1:no-such-service-here: %v; want refused, naming --listen", err)
	}
}
