package oss

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"
)

// slogWriter routes memberlist's log lines ("[DEBUG] memberlist: ...") to
// the node's logger. memberlist's errors and warnings tell of a peer or
// of the network (a member out of reach, a name another node claims),
// which membership handles, and they repeat every probe or gossip round
// while the cause lasts ("Conflicting address" every few seconds while
// two nodes share a name): each kind of line, per peer it names, is a
// warning once a minute and debug in between. Debug and info lines keep
// their level.
type slogWriter struct {
	l     *slog.Logger
	stats *memberStats // counts the lines that tell of failures; nil: none
	seen  *repeats
}

func newSlogWriter(l *slog.Logger, stats *memberStats) *slogWriter {
	return &slogWriter{l: l, stats: stats, seen: &repeats{now: time.Now}}
}

func (w *slogWriter) Write(p []byte) (int, error) {
	if w.stats != nil {
		w.stats.count(p)
	}
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for _, pl := range [...]struct {
		prefix string
		level  slog.Level
	}{{"[DEBUG]", slog.LevelDebug}, {"[INFO]", slog.LevelInfo}, {"[WARN]", slog.LevelWarn}, {"[ERR]", slog.LevelWarn}} {
		if rest, ok := bytes.CutPrefix(line, []byte(pl.prefix)); ok {
			level, line = pl.level, bytes.TrimSpace(rest)
			break
		}
	}
	if level >= slog.LevelWarn && restartLine(line) {
		level = slog.LevelInfo
		line, _, _ = bytes.Cut(line, []byte(" meta:("))
	}
	if level >= slog.LevelWarn && !w.seen.fresh(repeatKey(line)) {
		level = slog.LevelDebug
	}
	w.l.Log(context.Background(), level, string(line), "component", "memberlist")
	return len(p), nil
}

// repeatKey returns what tells one kind of memberlist line from another:
// its text up to the first ": " or ". ", which holds the peer the line
// names ("memberlist: Conflicting address for node2", "memberlist:
// Failed to send gossip to 127.0.0.1:7451"), and not the details that
// change between repeats.
func repeatKey(line []byte) string {
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	end := len(line)
	for _, sep := range []string{": ", ". "} {
		if i := bytes.Index(line, []byte(sep)); i >= 0 && i < end {
			end = i
		}
	}
	return string(line[:end])
}

// repeatEvery is how often one kind of memberlist warning is logged as
// one.
const repeatEvery = time.Minute

// repeats remembers when each kind of line was last logged as a warning.
type repeats struct {
	now  func() time.Time
	mu   sync.Mutex // protects last
	last map[string]time.Time
}

// fresh reports whether key was not logged as a warning in the last
// repeatEvery, and if so notes it logged now.
func (r *repeats) fresh(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if t, ok := r.last[key]; ok && now.Sub(t) < repeatEvery {
		return false
	}
	if r.last == nil {
		r.last = make(map[string]time.Time)
	}
	if len(r.last) >= 256 { // keys of a minute ago are forgotten, so the map holds what a minute brings
		for k, t := range r.last {
			if now.Sub(t) >= repeatEvery {
				delete(r.last, k)
			}
		}
	}
	r.last[key] = now
	return true
}

// restartLine reports whether a memberlist warning is what a node
// restarted under its name says as it meets its earlier incarnation's
// record: its peers still hold it alive or dead, and it refutes that.
// Every restart logged it as a warning, with the metadata's bytes.
func restartLine(line []byte) bool {
	return bytes.HasPrefix(line, []byte("memberlist: Refuting an alive message for")) ||
		bytes.HasPrefix(line, []byte("memberlist: Refuting a dead message"))
}
