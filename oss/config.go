package oss

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Node. The zero value is a usable single-node,
// in-memory configuration; every field documents its default.
type Config struct {
	// Name names the node in logs and, later, to its peers. If empty,
	// "node1".
	Name string
	// MaxRetries is how many times Update re-runs a transaction that
	// conflicted before it returns ErrConflict. If zero, 100. Negative means
	// no retries.
	MaxRetries int
	// MaxCommitBytes caps the encoded size of one commit record. If zero,
	// 8 MiB.
	MaxCommitBytes int
	// TickInterval is the period of the heaps' raft clocks. If zero, 100ms.
	TickInterval time.Duration
	// WatchBuffer is the number of change sets a watch buffers before a
	// consumer that falls behind gets a resync event instead. If zero, 1024.
	WatchBuffer int
	// WatchHistory is the number of recent change sets each heap keeps so a
	// watch can resume from a version it has seen. If zero, 4096.
	WatchHistory int
	// Logger receives the node's logs. If nil, slog.Default().
	Logger *slog.Logger
}

// populate returns a copy of cfg with every default filled in.
func populate(cfg *Config) *Config {
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	if c.Name == "" {
		c.Name = "node1"
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = 100
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.MaxCommitBytes == 0 {
		c.MaxCommitBytes = 8 << 20
	}
	if c.TickInterval == 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.WatchBuffer == 0 {
		c.WatchBuffer = 1024
	}
	if c.WatchHistory == 0 {
		c.WatchHistory = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return &c
}

func (c *Config) validate() error {
	var errs []error
	if c.MaxCommitBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxCommitBytes %d is negative", c.MaxCommitBytes))
	}
	if c.TickInterval < 0 {
		errs = append(errs, fmt.Errorf("TickInterval %v is negative", c.TickInterval))
	}
	if c.WatchBuffer < 0 {
		errs = append(errs, fmt.Errorf("WatchBuffer %d is negative", c.WatchBuffer))
	}
	if c.WatchHistory < 0 {
		errs = append(errs, fmt.Errorf("WatchHistory %d is negative", c.WatchHistory))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("oss: invalid config: %w", err)
	}
	return nil
}
