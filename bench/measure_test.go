package main

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"
)

// TestMeasureCopy checks that the OSS worker's copy of measure.go (it is
// a module of its own) is the same as this one, but for the comment that
// says which is the copy.
func TestMeasureCopy(t *testing.T) {
	strip := func(name string) []byte {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(b, []byte("\nimport ("))
		if i < 0 {
			t.Fatalf("%s: no import block", name)
		}
		return b[i:]
	}
	if !bytes.Equal(strip("measure.go"), strip("osswork/measure.go")) {
		t.Error("osswork/measure.go differs from measure.go: copy it over (keeping its header comment)")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 100_000: "100,000", 1_000_000: "1,000,000", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestLatencies checks the histogram's quantiles against the exact ones
// of the same durations, from nanoseconds to seconds, and its rate.
func TestLatencies(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	for _, scale := range []time.Duration{100, time.Microsecond, time.Millisecond, time.Second} {
		l := newLatencies()
		var exact []time.Duration
		var sum time.Duration
		for range 20_000 {
			d := time.Duration(rng.ExpFloat64() * float64(scale))
			l.add(d)
			exact = append(exact, d)
			sum += d
		}
		slices.Sort(exact)
		for _, p := range []float64{0, 0.01, 0.5, 0.9, 0.99, 0.999, 1} {
			want := float64(exact[min(len(exact)-1, int(float64(len(exact))*p))]) / float64(time.Microsecond)
			got := l.pct(p)
			if math.Abs(got-want) > want/256+0.001 {
				t.Errorf("seed %d scale %v: p%v = %.4f µs, exact %.4f µs", seed, scale, p, got, want)
			}
		}
		if l.len() != len(exact) {
			t.Errorf("len %d, want %d", l.len(), len(exact))
		}
		if want := float64(len(exact)) / sum.Seconds(); math.Abs(l.perSecond()-want) > want*1e-9 {
			t.Errorf("perSecond %v, want %v", l.perSecond(), want)
		}
	}
	if got := newLatencies().pct(0.5); got != 0 {
		t.Errorf("empty p50 = %v, want 0", got)
	}
	// Every bucket's middle falls in that bucket, up to the largest duration.
	for _, d := range []time.Duration{0, 1, 511, 512, 513, 1 << 20, 1<<40 + 12345, math.MaxInt64} {
		if i := latBucket(d); latBucket(latValue(i)) != i {
			t.Errorf("d %d: bucket %d, its middle %d is in bucket %d", d, i, latValue(i), latBucket(latValue(i)))
		}
	}
}
