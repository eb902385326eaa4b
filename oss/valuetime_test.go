package oss_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
)

type stamped struct {
	At    time.Time
	Until *time.Time
	Zero  time.Time
}

// A time.Time reads back as the instant it was put, to the nanosecond,
// in the zone offset it was put in: Get and a watch's Change.Decode
// alike, as encoding/json would keep it. Times were encoded as whole
// seconds since 1970, so time.Now() read back up to a second early and
// in time.Local: a lease or a deadline kept in a heap moved.
func TestTimeReadsBackToTheNanosecond(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, _ := probeHeap(t)
	w, err := h.Watch(&oss.WatchOptions{From: h.Stats().Applied})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	until := time.Date(2031, 7, 1, 23, 59, 59, 999_999_999, time.FixedZone("", -7*3600))
	want := stamped{
		At:    time.Date(2026, 12, 5, 5, 18, 39, 123_456_789, time.FixedZone("CET", 3600)),
		Until: &until,
	}
	id := uuid.New()
	if err := h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, id, want) }); err != nil {
		t.Fatal(err)
	}
	check := func(how string, got stamped) {
		t.Helper()
		if !got.At.Equal(want.At) || got.Until == nil || !got.Until.Equal(until) || !got.Zero.IsZero() {
			t.Errorf("%s: read back %v, %v, %v; want %v, %v and the zero time", how, got.At, got.Until, got.Zero, want.At, until)
			return
		}
		_, off := got.At.Zone()
		_, offUntil := got.Until.Zone()
		if off != 3600 || offUntil != -7*3600 {
			t.Errorf("%s: read back in the offsets %d and %d; want 3600 and %d", how, off, offUntil, -7*3600)
		}
	}
	err = h.View(ctx, func(tx *oss.Tx) error {
		got, err := oss.Get[stamped](tx, id)
		check("Get", got)
		return err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := w.Next(ctx)
	if err != nil || len(ev.Objects) != 1 {
		t.Fatalf("the watch: %v, %v", ev, err)
	}
	var got stamped
	if err := ev.Objects[0].Decode(&got); err != nil {
		t.Fatal(err)
	}
	check("Change.Decode", got)
}
