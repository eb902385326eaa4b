package oss_test

import (
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
	"go.uber.org/goleak"
)

// The watch probes compare each consumer with the writers' outcomes once
// it took a marker committed after the writers stopped: a consumer that
// took the marker has every commit before it. A write in flight when the
// writers were told to stop, acknowledged after the marker went in, lies
// past it in the log; such a write made the probe report "1 acknowledged
// commits never reached the consumer" of a consumer that simply had not
// taken it yet (seed 8665566049836078525 on a client: commits 6185 and
// 6186, through c1, past the consumer's last event at 6184, which held
// the marker). Stopping the writers waits for their writes in flight, so
// every acknowledged commit precedes the marker.
func TestWatchProbeWritersStopBeforeTheMarker(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 1, nil)
	nodes := []string{"n1"}
	p := newWProbe(c, "late", nodes)
	defer p.stop()
	c.WaitLeader("late")
	k := p.consume("n1", oss.WatchOptions{})
	held := make(chan struct{})
	release := make(chan struct{})
	var released sync.Once
	defer released.Do(func() { close(release) }) // before p.stop, which waits for the writer
	first := true
	p.hold = func() { // only the one writer calls it
		if first {
			first = false
			close(held)
			<-release
		}
	}
	stop := make(chan struct{})
	p.writers(1, nodes, stop)
	osstest.Recv(t, held, "a write to be in flight")
	stopped := make(chan struct{})
	go func() {
		p.stopWriters(stop)
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("the writers stopped with a write in flight: it may be acknowledged after the marker")
	case <-time.After(time.Second):
	}
	released.Do(func() { close(release) })
	osstest.Recv(t, stopped, "the writers to stop")
	marker := p.marker(t, nodes)
	p.mu.Lock()
	at := p.indexOf(marker)
	for id := range p.acked {
		if i := p.indexOf(id); id != marker && i >= at {
			t.Errorf("commit %v acknowledged at index %d, past the marker at %d", id, i, at)
		}
	}
	p.mu.Unlock()
	p.check(t, marker, []*wconsumer{k})
}
