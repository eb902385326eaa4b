package oss

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/persist"
)

// peersFile holds, in a durable node's data directory, the addresses of
// the servers it has seen in its membership, one "NAME ADDR" a line. A
// member restarted with Join naming members that are gone for good (the
// node it first joined through, replaced since) would otherwise wait for
// them for ever; it tries the servers it last knew as well. The file is a
// hint: a lost or stale one costs only dials that fail.
const peersFile = "PEERS"

// peerSaveEvery bounds how often the book is written.
const peerSaveEvery = time.Second

// peerBook keeps the servers' addresses as membership reports them.
type peerBook struct {
	fsys persist.FS
	dir  string
	self string
	log  *slog.Logger

	mu    sync.Mutex
	addrs map[string]string // server name → address
	dirty chan struct{}     // buffered: the book changed since it was written
}

// openPeerBook reads the book of dir; a missing or unreadable one is an
// empty book.
func openPeerBook(fsys persist.FS, dir, self string, log *slog.Logger) *peerBook {
	b := &peerBook{fsys: fsys, dir: dir, self: self, log: log, addrs: map[string]string{}, dirty: make(chan struct{}, 1)}
	f, err := fsys.Open(filepath.Join(dir, peersFile))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			log.Warn("the addresses of known peers cannot be read; starting without them", "file", filepath.Join(dir, peersFile), "err", err)
		}
		return b
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		name, addr, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if ok && name != "" && addr != "" && name != self {
			b.addrs[name] = addr
		}
	}
	return b
}

// known returns the addresses in the book, sorted.
func (b *peerBook) known() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, a := range b.addrs {
		out = append(out, a)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// note records what a membership event says of a server: its address, or
// that it left for good. Failed members stay: they may come back.
func (b *peerBook) note(e memberEvent) {
	m := e.Member
	if m.Name == b.self || m.Role != pki.RoleServer {
		return
	}
	b.mu.Lock()
	old, had := b.addrs[m.Name]
	switch {
	case e.Kind == memberLeft:
		delete(b.addrs, m.Name)
	case (e.Kind == memberJoined || e.Kind == memberUpdated) && m.Addr != "":
		b.addrs[m.Name] = m.Addr
	}
	now, has := b.addrs[m.Name]
	b.mu.Unlock()
	if had != has || old != now {
		select {
		case b.dirty <- struct{}{}:
		default:
		}
	}
}

// run writes the book when it changed, at most every peerSaveEvery, until
// stop is closed.
func (b *peerBook) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-b.dirty:
		}
		if err := writeFileAtomic(b.fsys, b.dir, peersFile, b.encode()); err != nil {
			b.log.Warn("the addresses of known peers are not saved", "err", err)
		}
		select {
		case <-stop:
			return
		case <-time.After(peerSaveEvery):
		}
	}
}

func (b *peerBook) encode() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	names := make([]string, 0, len(b.addrs))
	for name := range b.addrs {
		names = append(names, name)
	}
	slices.Sort(names)
	var buf bytes.Buffer
	for _, name := range names {
		fmt.Fprintf(&buf, "%s %s\n", name, b.addrs[name])
	}
	return buf.Bytes()
}
