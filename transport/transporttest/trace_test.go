package transporttest

import (
	"fmt"
	"testing"
	"time"
)

// What the trace hashes of a delivery is what fmt's "%d|%d|%s|%s|%t|"
// wrote, byte for byte: a seed's trace is the one it had.
func TestTraceHeaderIsWhatFmtWrote(t *testing.T) {
	for _, c := range []struct {
		trace uint64
		e     envelope
	}{
		{0, envelope{}},
		{1<<64 - 1, envelope{at: 1500 * time.Millisecond, from: "n1", to: "n2", reply: true}},
		{0x55b7dbc7712a9ddc, envelope{at: -1, from: "a|b", to: "", reply: false}},
	} {
		got := string(traceHeader(nil, c.trace, &c.e))
		want := fmt.Sprintf("%d|%d|%s|%s|%t|", c.trace, c.e.at, c.e.from, c.e.to, c.e.reply)
		if got != want {
			t.Errorf("traceHeader %q, fmt wrote %q", got, want)
		}
	}
}
