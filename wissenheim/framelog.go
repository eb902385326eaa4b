package main

import (
	"fmt"
	"io"
	"runtime/metrics"
	"time"
)

// frameLogger writes, with --frame-log, one line for every measured
// frame: its kind; its time and the interval from its Draw to the next
// (see frameStats); the CPU time over the interval of the whole process,
// of its drawing threads (the main thread and Mesa's rasterizers) and of
// the others (the node, the reader, the collector); the frame's own
// Update and Draw, as wall and thread CPU time; how long the process's
// threads waited for a core meanwhile, all together; and how many
// garbage collections ended. A slow frame's line says whether it did
// more work, which threads did it, or waited.
type frameLogger struct {
	kind      string
	wall, cpu time.Duration // the frame's own Update and Draw
	delay     time.Duration // threadTimes at the frame's Draw
	draw      time.Duration
	other     time.Duration
	gc        uint64
	sample    []metrics.Sample
	header    bool
}

// work records the frame just drawn: empty or not, and its own work.
func (l *frameLogger) work(empty bool, wall, cpu time.Duration) {
	l.kind = "drawn"
	if empty {
		l.kind = "empty"
	}
	l.wall, l.cpu = wall, cpu
}

// interval writes the line of the frame recorded last, whose interval
// just ended with proc of the process's CPU time.
func (l *frameLogger) interval(w io.Writer, ft, iv, proc time.Duration) {
	if l.sample == nil {
		l.sample = []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	}
	metrics.Read(l.sample)
	gc := l.sample[0].Value.Uint64()
	delay, draw, other, _ := threadTimes()
	if !l.header {
		fmt.Fprintln(w, "kind frame_us interval_us process_cpu_us draw_cpu_us other_cpu_us work_us thread_cpu_us run_delay_us gcs")
		l.header = true
	} else if l.kind != "" {
		fmt.Fprintf(w, "%s %d %d %d %d %d %d %d %d %d\n", l.kind, ft.Microseconds(), iv.Microseconds(), proc.Microseconds(),
			(draw - l.draw).Microseconds(), (other - l.other).Microseconds(),
			l.wall.Microseconds(), l.cpu.Microseconds(), (delay - l.delay).Microseconds(), gc-l.gc)
	}
	l.delay, l.draw, l.other, l.gc = delay, draw, other, gc
}
