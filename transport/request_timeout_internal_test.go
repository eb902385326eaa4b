package transport

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// A call or bulk stream that sent its hello and nothing after was read
// with no deadline: the hello's bound ended with the hello. An outside
// probe's client certificate opened 1,024 such call streams on each of 8
// connections and held 8,192 of an ossd's goroutines (38 MB resident to
// 137 MB) for as long as it liked. The request (a bulk stream's header)
// is written with the hello by every sender, and must now follow it
// within HelloTimeout; the stream is reset and logged otherwise, and a
// call beside it is answered.
func TestCallWithoutItsRequestIsReset(t *testing.T) {
	const helloTimeout = 200 * time.Millisecond
	a, c, logs, ctx := helloTimeoutPair(t, helloTimeout, &eventRecorder{})
	for _, kind := range []uint8{streamCall, streamBulk} {
		s, err := c.OpenStreamSync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.SetDeadline(time.Now().Add(2 * time.Minute))
		buf, _ := appendFrame(nil, &frame{Type: frameHello, From: "a", Kind: kind})
		if _, err := s.Write(buf); err != nil {
			t.Fatal(err)
		}
		_, err = s.Read(make([]byte, 1))
		var se *quic.StreamError
		if !errors.As(err, &se) || !se.Remote {
			t.Fatalf("a stream of kind %d that sent its hello alone: read %v, want a reset from b", kind, err)
		}
	}
	if resp, err := a.Call(ctx, "b", []byte("ping")); err != nil || string(resp) != "ok:ping" {
		t.Fatalf("a call after the reset streams: %q %v", resp, err)
	}
	if n := strings.Count(logs.String(), "no request after the hello"); n != 2 {
		t.Fatalf("%d of 2 streams without their request logged:\n%s", n, logs.String())
	}
}
