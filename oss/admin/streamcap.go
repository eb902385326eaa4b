package admin

import (
	"net/http"
	"sync"
)

// streamKind is what a stream is: a backup or a restore.
type streamKind uint8

const (
	streamBackup streamKind = iota
	streamRestore
)

// streamCaps bound the streams (backups, restores) under way at once, per
// node and per identity. A backup pins its View's snapshot (everything
// committed since is copied, not shared) for as long as its client takes
// bytes within streamIdle; a restore holds some 3 × MaxCommitBytes (a
// commit's writes, their encoded record, the record read) as long as its
// client sends bytes within streamIdle. Neither is bound by a time on the
// whole, so their number is: a read permission pins at most
// streamPerIdentity[streamBackup] snapshots, the node at most
// streamPerNode[streamBackup].
var (
	streamPerNode     = [2]int{streamBackup: 4, streamRestore: 2}
	streamPerIdentity = [2]int{streamBackup: 2, streamRestore: 1}
)

// streams counts the streams under way.
type streams struct {
	mu    sync.Mutex
	node  [2]int
	ident map[streamIdent]int
}

type streamIdent struct {
	kind streamKind
	id   Identity
}

// takeStream counts a stream of kind for the request's identity, or
// answers 429 (the identity's cap) or 503 (the node's, busy: stateHeader)
// and reports false.
func (a *api) takeStream(w http.ResponseWriter, r *http.Request, kind streamKind) (release func(), ok bool) {
	s := &a.streams
	key := streamIdent{kind: kind, id: identityOf(r)}
	what := [2]string{streamBackup: "backups", streamRestore: "restores"}[kind]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ident[key] >= streamPerIdentity[kind] {
		w.Header().Set("Retry-After", "5")
		fail(w, refuse(http.StatusTooManyRequests, "the certificate %q has %d %s under way on this node, the most one identity may: retry once one has ended", key.id.Name, s.ident[key], what))
		return nil, false
	}
	if s.node[kind] >= streamPerNode[kind] {
		// Nothing of the request was read or done: the state lets the
		// client send it on to the next node (a restore that can be sent
		// again, a backup), as the message says.
		w.Header().Set("Retry-After", "5")
		w.Header().Set(stateHeader, "busy")
		fail(w, refuse(http.StatusServiceUnavailable, "this node has %d %s under way, the most it takes at once: retry later, or on another node", s.node[kind], what))
		return nil, false
	}
	if s.ident == nil {
		s.ident = map[streamIdent]int{}
	}
	s.ident[key]++
	s.node[kind]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.ident[key]--; s.ident[key] <= 0 {
			delete(s.ident, key)
		}
		s.node[kind]--
	}, true
}
