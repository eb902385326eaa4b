package oss

import (
	"context"
	"fmt"
	"log/slog"
)

// raftLogger routes raft's log lines to slog: raft's info is our debug,
// since it narrates elections and appends that an operator rarely needs.
type raftLogger struct{ l *slog.Logger }

func (r raftLogger) log(level slog.Level, args ...any) {
	if r.l.Enabled(context.Background(), level) {
		r.l.Log(context.Background(), level, fmt.Sprint(args...))
	}
}

func (r raftLogger) logf(level slog.Level, format string, args ...any) {
	if r.l.Enabled(context.Background(), level) {
		r.l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (r raftLogger) Debug(v ...any)                 { r.log(slog.LevelDebug, v...) }
func (r raftLogger) Debugf(format string, v ...any) { r.logf(slog.LevelDebug, format, v...) }
func (r raftLogger) Info(v ...any)                  { r.log(slog.LevelDebug, v...) }
func (r raftLogger) Infof(format string, v ...any)  { r.logf(slog.LevelDebug, format, v...) }
func (r raftLogger) Warning(v ...any)               { r.log(slog.LevelWarn, v...) }
func (r raftLogger) Warningf(format string, v ...any) {
	r.logf(slog.LevelWarn, format, v...)
}
func (r raftLogger) Error(v ...any)                 { r.log(slog.LevelError, v...) }
func (r raftLogger) Errorf(format string, v ...any) { r.logf(slog.LevelError, format, v...) }
func (r raftLogger) Fatal(v ...any)                 { r.Panic(v...) }
func (r raftLogger) Fatalf(format string, v ...any) { r.Panicf(format, v...) }
func (r raftLogger) Panic(v ...any) {
	s := fmt.Sprint(v...)
	r.l.Error(s)
	panic(raftPanic(s))
}
func (r raftLogger) Panicf(format string, v ...any) {
	s := fmt.Sprintf(format, v...)
	r.l.Error(s)
	panic(raftPanic(s))
}

// raftPanic is what raft panics with when a replica's state contradicts
// itself or its group's: most often a commit index its leader sends past
// the end of the replica's log, which the replica had acknowledged, so
// its data directory lost what it held. The heap's loop recovers it and
// closes the replica (Heap.lostState).
type raftPanic string
