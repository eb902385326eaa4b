package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A paced frame starts at the first refresh at or after the previous
// one's end, as a present with vsync would: on time, it waits for the
// next; late, it skips the refreshes it missed.
func TestNextRefreshIsTheFirstAtOrAfterNow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	pace := 10 * time.Millisecond
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, c := range []struct {
		next, now, want time.Time
	}{
		{time.Time{}, at(3), at(3)}, // the first frame starts at once
		{at(10), at(4), at(10)},     // early: wait for the refresh
		{at(10), at(10), at(10)},    // just on time
		{at(10), at(11), at(20)},    // late by 1 ms: the next refresh
		{at(10), at(20), at(20)},
		{at(10), at(35), at(40)}, // three refreshes missed
	} {
		if got := nextRefresh(c.next, c.now, pace); !got.Equal(c.want) {
			t.Errorf("nextRefresh(%v, %v) = %v, want %v", c.next.Sub(t0), c.now.Sub(t0), got.Sub(t0), c.want.Sub(t0))
		}
	}
}

// The frame log has a header and a line for each measured frame with
// every field a number, and a frame's time never exceeds its interval.
func TestFrameLoggerWritesALineAFrame(t *testing.T) {
	var buf bytes.Buffer
	var l frameLogger
	l.interval(&buf, 0, 0, 0) // the first measured interval writes the header
	for i := range 3 {
		l.work(i%2 == 1, time.Millisecond, time.Millisecond/2)
		l.interval(&buf, 8*time.Millisecond, 10*time.Millisecond, 9*time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want a header and 3:\n%s", len(lines), buf.String())
	}
	head := strings.Fields(lines[0])
	for i, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) != len(head) {
			t.Fatalf("line %q: %d fields, the header %d", line, len(f), len(head))
		}
		if want := []string{"drawn", "empty"}[i%2]; f[0] != want {
			t.Errorf("line %q: kind %s, want %s", line, f[0], want)
		}
		for _, v := range f[1:] {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				t.Errorf("line %q: %q is not a number", line, v)
			}
		}
		if f[1] != "8000" || f[2] != "10000" {
			t.Errorf("line %q: frame time and interval not as measured", line)
		}
	}
}
