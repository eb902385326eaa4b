package oss

import (
	"context"
	"slices"
	"time"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
)

// replicaStatus is one replica's view of its group, as a status call
// returns it.
type replicaStatus struct {
	Heap     string   `cbor:"1,keyasint"`
	Leader   string   `cbor:"2,keyasint,omitempty"`
	Voters   []string `cbor:"3,keyasint"`
	Learners []string `cbor:"4,keyasint,omitempty"`
	Joint    bool     `cbor:"5,keyasint,omitempty"`
	Applied  uint64   `cbor:"6,keyasint"`
	Leading  bool     `cbor:"7,keyasint,omitempty"`
	// Lost is why the replica was lost while its node ran, if it was.
	Lost string `cbor:"8,keyasint,omitempty"`
	// Stuck is why the node's log refused the replica's last write,
	// while it refuses (Heap.stuckOnDisk).
	Stuck string `cbor:"9,keyasint,omitempty"`
	// LogFailed says that the node's write-ahead log has stopped
	// (persist.WAL.Failed): the replica commits and applies nothing more
	// until the node is rebuilt.
	LogFailed bool `cbor:"10,keyasint,omitempty"`
	// Group is the replica's group: a node whose catalog replica lags
	// may still keep a replica of a heap of the name dropped since,
	// which is not the entry's heap (0 from a node that does not say).
	Group uint64 `cbor:"11,keyasint,omitempty"`
}

func (n *Node) localStatus() []replicaStatus {
	n.mu.Lock()
	hs := make([]*Heap, 0, len(n.heaps)+1)
	if n.catalog.Load() != nil {
		hs = append(hs, n.catalog.Load())
	}
	for _, h := range n.heaps {
		hs = append(hs, h)
	}
	n.mu.Unlock()
	out := make([]replicaStatus, 0, len(hs))
	w := n.walOf()
	logFailed := w != nil && w.Failed() != nil
	for _, h := range hs {
		g := h.Stats()
		r := replicaStatus{Heap: h.name, Voters: g.Voters, Learners: g.Learners,
			Joint: g.Joint, Applied: g.Applied, Leading: h.leaderIs(h.self), LogFailed: logFailed, Group: h.group}
		if g.LeaderInReach {
			// A learner keeps the leader it last heard of, dead or cut
			// off: what it no longer hears from is no leader it knows.
			r.Leader = g.Leader
		}
		if err := h.lostErr(); err != nil {
			r.Lost = err.Error()
		}
		if err := h.stuck.Load(); err != nil {
			r.Stuck = (*err).Error()
		}
		out = append(out, r)
	}
	return out
}

// statusFor is what a status call of the peer from is answered: this
// node's replicas, all of them for a server's (it gathers the status for
// an operator), for a client's only those of the heaps it may read (the
// catalog's among them), as this node's grants say. Each replica's
// applied index, group, and why it was lost or stuck, is what the heap's
// readers may know; a client's catalog replica tells it every heap's
// name and placement anyway ("Access control"), not how each moves.
func (n *Node) statusFor(from string) []replicaStatus {
	reps := n.localStatus()
	role := n.peerRole(from)
	if privileged(role) {
		return reps
	}
	return slices.DeleteFunc(reps, func(r replicaStatus) bool {
		return n.authorize(from, role, r.Heap, PermRead) != nil
	})
}

// ClusterStatus is the state of the cluster as one node gathers it.
type ClusterStatus struct {
	// Node is the node that gathered it.
	Node    string
	Members []Member
	// Heaps are the heaps of the catalog, the catalog itself first.
	Heaps []HeapStatus
	// Unreachable lists members that did not answer.
	Unreachable []string `json:",omitempty"`
	// Damage, if not empty, says that the node that gathered the status
	// is damaged, why, and what to do (Node.Damage): its catalog replica
	// was lost, and Heaps is the catalog as the replica had it then.
	Damage string `json:",omitempty"`
	// LogFailed, if not empty, says that the write-ahead log of the node
	// that gathered the status has stopped (persist.ErrFailed: a failed
	// sync it cannot trust, or the log gone from the data directory), and
	// why, naming the file: the node commits nothing on any heap until it
	// is restarted.
	LogFailed string `json:",omitempty"`
	// DiskStalled, if not empty, says that an operation of the data
	// directory of the node that gathered the status has been under way
	// for DiskStallAfter or longer without returning (Node.DiskStalled),
	// naming the operation and its file: the replicas waiting for it
	// commit nothing until it returns. It clears once it has.
	DiskStalled string `json:",omitempty"`
	// Closed says that the node that gathered the status was closed: it
	// asks no other member and reports no members and no heaps.
	Closed bool `json:",omitempty"`
	// Revoked, if not empty, says that the certificate of the node that
	// gathered the status is revoked (Node.Revoked): its peers refuse it,
	// and what it reports of them is as old as the revocation.
	Revoked string `json:",omitempty"`
	// Expiring lists the certificates of the node that gathered the
	// status and of the members it is connected to that expire soon
	// (certexpiry.go): once one has expired, its node is cut off.
	Expiring []CertificateExpiry `json:",omitempty"`
}

// HeapStatus describes a heap: its entry in the catalog and its group, as
// the replicas that answered report it (every member's for Node.Status,
// this node's alone for Node.Heaps).
type HeapStatus struct {
	Name string
	// Group is the ID of the heap's group, which its catalog entry holds:
	// a heap of the name dropped and created again has another, so a
	// name and a group name one heap for good (Node.DropHeapOfGroup).
	// A string in JSON: a number past 2^53 loses digits in JavaScript.
	Group uint64 `json:",string"`
	// Replicas is the number of voters the heap keeps, its replication
	// factor (HeapOptions.Replicas at creation, Node.SetHeapReplicas
	// since). It keeps at most one a live server, and an odd number: an
	// even Replicas is one voter fewer, for good. Voters may differ for
	// a while after a change, as placement grows or reduces the group.
	Replicas int
	// Leader, Voters, Learners and Joint are the group as its leader
	// reports it, or as the most advanced replica that answered if no
	// leader did; empty if no replica answered. Leader is empty while
	// that replica has not heard from a leader within two election
	// timeouts (Stats.LeaderInReach).
	Leader           string
	Voters, Learners []string
	Joint            bool `json:",omitempty"`
	// Applied is the reporting replica's applied index.
	Applied uint64
	// ReplicaApplied is the applied index of every replica that answered:
	// of every member's replica that answered for Node.Status, of this
	// node's replica alone for Node.Heaps (which asks no other member).
	// No node knows the applied index of another's replica otherwise: a
	// leader tracks how much of its log each replica holds, not what it
	// applied.
	ReplicaApplied map[string]uint64 `json:",omitempty"`
	// Unreported names the voters and learners (of Voters and Learners)
	// whose applied index ReplicaApplied lacks, sorted: for Node.Heaps
	// every replica on another node; for Node.Status those on members
	// that did not answer, or that keep no replica (yet). Added so that
	// ReplicaApplied keeps its meaning and a reader of the JSON sees what
	// it leaves out.
	Unreported []string `json:",omitempty"`
	// Lost names the nodes whose replica was lost while they ran, and
	// why: each must be restarted empty, with Join, to rebuild it.
	Lost map[string]string `json:",omitempty"`
	// Stuck names the nodes whose log refuses their replica's writes (a
	// full or failing disk), and why: such a replica applies nothing
	// its group commits until its log takes them.
	Stuck map[string]string `json:",omitempty"`
	// LogFailed names the nodes whose write-ahead log has stopped (a
	// failed sync, the log gone from the data directory), sorted: their
	// replicas commit and apply nothing more, whatever the disk does
	// next, until each node is rebuilt (ossd --rebuild-replica --join).
	// Such a replica may be in Stuck too, with the log's error.
	LogFailed []string `json:",omitempty"`
	// Short, if not nil, says that the heap has fewer live voters than it
	// wants, and why. Node.Status alone sets it, from the members it sees
	// live, and not for the catalog, whose five voters are the system's
	// choice, not the operator's, nor on a node whose certificate is
	// revoked (Revoked), whose view of the members is not to be trusted.
	Short *VoterShortfall `json:",omitempty"`
}

// VoterShortfall is a heap below its replication factor (HeapStatus.Short).
type VoterShortfall struct {
	// Voters is how many voters the heap's group has, Live how many of
	// them are live members, Wants how many it keeps with servers enough:
	// its Replicas, rounded down to an odd number.
	Voters, Live, Wants int
	// Servers is how many of the live members are servers.
	Servers int
	// Down names the voters that are no live member, sorted.
	Down []string `json:",omitempty"`
	// Why is QuorumLost, ShortOfServers, ReplacementPending or
	// NoReplicaAnswered.
	Why string
}

// The reasons of a VoterShortfall.
const (
	// QuorumLost: no more than half the voters are live, so the group
	// has no leader, and only a leader replaces a voter: nothing is
	// replaced, and nothing committed, until a down voter comes back.
	// It comes before the other two: servers enough or not, a live
	// server takes no place while the group has no leader.
	QuorumLost = "no quorum"
	// ShortOfServers: fewer servers are live than the heap wants voters.
	// It keeps at most one voter a server, and stays short until servers
	// join (or, of a voter lost for good, until a server takes its place).
	ShortOfServers = "not enough servers"
	// ReplacementPending: servers enough are live, and one is to take
	// each missing place: a down voter's once it has been gone for
	// Config.ReplaceAfter, or a place the group grows to.
	ReplacementPending = "replacement pending"
	// NoReplicaAnswered: no member that answered keeps a replica of the
	// heap, so its voters are unknown (Voters and Live are 0): they are
	// down, or not answering (ClusterStatus.Unreachable), or, for a
	// moment after CreateHeap, not yet opened. The heap commits nothing
	// and serves no read until one of them is back.
	NoReplicaAnswered = "no replica answered"
)

// noteShortfalls sets the Short of each heap of st, the catalog aside,
// whose live voters are fewer than it wants: st.Members are the live
// members. A heap no replica reported is short for NoReplicaAnswered:
// one of a single replica whose server died was listed with no voters
// and no shortfall, as if nothing were amiss. Every heap of a node whose
// certificate is revoked (st.Revoked) is left alone: its peers refuse
// it, and its view comes to hold itself alone.
func noteShortfalls(st *ClusterStatus) {
	if st.Revoked != "" {
		return
	}
	live := map[string]bool{}
	servers := 0
	for _, m := range st.Members {
		live[m.Name] = true
		if m.Role == pki.RoleServer {
			servers++
		}
	}
	for i := range st.Heaps {
		h := &st.Heaps[i]
		if h.Name == catalogName {
			continue
		}
		s := VoterShortfall{Voters: len(h.Voters), Wants: oddVoters(h.Replicas, h.Replicas), Servers: servers}
		if len(h.Voters) == 0 {
			if len(h.ReplicaApplied) == 0 && s.Wants > 0 {
				s.Why = NoReplicaAnswered
				h.Short = &s
			}
			continue
		}
		for _, v := range h.Voters {
			if live[v] {
				s.Live++
			} else {
				s.Down = append(s.Down, v)
			}
		}
		if s.Live >= s.Wants {
			continue
		}
		slices.Sort(s.Down)
		switch {
		case s.Live*2 <= s.Voters:
			s.Why = QuorumLost
		case servers < s.Wants:
			s.Why = ShortOfServers
		default:
			s.Why = ReplacementPending
		}
		h.Short = &s
	}
}

// Status asks every live member for its replicas and returns the cluster's
// members and heaps; on a client node, the heaps it may read alone, as
// its peers answer it of no other. Members that do not answer within ctx
// (or a second) are listed as unreachable. A closed node asks nobody: its status has
// Closed set, and no members or heaps.
func (n *Node) Status(ctx context.Context) ClusterStatus {
	if n.isClosed() {
		return ClusterStatus{Node: n.cfg.Name, Closed: true}
	}
	st := ClusterStatus{Node: n.cfg.Name, Members: n.Members()}
	st.Expiring = n.expiringCertificates(time.Now(), st.Members)
	if err := n.Damage(); err != nil {
		st.Damage = err.Error()
	}
	if err := n.Revoked(); err != nil {
		st.Revoked = err.Error()
	}
	if w := n.walOf(); w != nil {
		if err := w.Failed(); err != nil {
			st.LogFailed = err.Error()
		}
	}
	if err := n.DiskStalled(); err != nil {
		st.DiskStalled = err.Error()
	}
	type answer struct {
		node string
		reps []replicaStatus
		err  error
	}
	var live []string
	for _, m := range st.Members {
		if m.Name != n.cfg.Name {
			live = append(live, m.Name)
		}
	}
	answers := make(chan answer, len(live))
	req, _ := codec.Marshal(callRequest{Op: opStatus})
	for _, name := range live {
		go func() {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			b, err := n.tr.Call(cctx, name, req)
			var reps []replicaStatus
			if err == nil {
				err = codec.Unmarshal(b, &reps)
			}
			answers <- answer{name, reps, err}
		}()
	}
	all := map[string][]replicaStatus{n.cfg.Name: n.localStatus()}
	for range live {
		a := <-answers
		if a.err != nil {
			st.Unreachable = append(st.Unreachable, a.node)
			continue
		}
		all[a.node] = a.reps
	}
	slices.Sort(st.Unreachable)
	entries := append([]heapEntry{{Name: catalogName, Replicas: catalogReplicas}}, n.catalogEntries()...)
	if !privileged(n.cfg.Role) {
		// A client node is answered the replicas of the heaps it may
		// read alone (statusFor): any other heap would be listed with no
		// leader, no voters and nothing applied, as one whose group is
		// gone.
		entries = slices.DeleteFunc(entries, func(e heapEntry) bool {
			return n.authorize(n.cfg.Name, n.cfg.Role, e.Name, PermRead) != nil
		})
	}
	st.Heaps = heapStatuses(entries, all)
	leadsFromHeaps(&st)
	noteShortfalls(&st)
	return st
}

// leadsFromHeaps makes each member's Leads the heaps st names it the
// leader of. What members announce in membership is a second late, and
// later still of a member that stopped answering: the status listed a
// node killed a moment before as leading the heaps whose leader it
// named as another, and after a restart a heap's leader under another
// member.
func leadsFromHeaps(st *ClusterStatus) {
	leads := map[string][]string{}
	for _, h := range st.Heaps {
		if h.Leader != "" {
			leads[h.Leader] = append(leads[h.Leader], h.Name)
		}
	}
	for i := range st.Members {
		st.Members[i].Leads = leads[st.Members[i].Name]
		slices.Sort(st.Members[i].Leads)
	}
}

// Heaps lists the heaps in the catalog as this node knows them, without
// asking other members: the catalog as the local replica has it, and the
// group of each heap this node keeps a replica of as that replica sees
// it. A closed node lists none (nil).
func (n *Node) Heaps() []HeapStatus {
	if n.isClosed() {
		return nil
	}
	return heapStatuses(n.catalogEntries(), map[string][]replicaStatus{n.cfg.Name: n.localStatus()})
}

// ReplicaStats returns what Heap.Stats and Heap.Hot would of this node's
// replica of a heap (the catalog's, oss:catalog, included), and ok false
// if the node keeps none. It neither opens the heap nor waits for the
// replica to catch up, and asks no other node: it answers at once
// whatever the heap's group is doing, for a dashboard or a probe that
// must not stall on one heap. The replica may be behind its group: one
// that no Heap call has opened yet (recovered at start, or opened by the
// node itself) has not been caught up, and while its group has no leader
// (Stats.Leader is empty) nothing says how far behind it is. A replica
// lost while the node ran (HeapStatus.Lost) is reported as it stood. A
// closed node keeps no replica running: ok is false.
func (n *Node) ReplicaStats(name string) (s Stats, hot []HotObject, ok bool) {
	if n.isClosed() {
		return Stats{}, nil, false
	}
	h := n.replicaOf(name)
	if h == nil {
		return Stats{}, nil, false
	}
	return h.Stats(), h.Hot(), true
}

// heapStatuses describes the heaps of entries from what the replicas of
// nodes reported.
func heapStatuses(entries []heapEntry, all map[string][]replicaStatus) []HeapStatus {
	var out []HeapStatus
	for _, e := range entries {
		hs := HeapStatus{Name: e.Name, Group: e.Group, Replicas: e.Replicas, ReplicaApplied: map[string]uint64{}}
		var best *replicaStatus
		for node, reps := range all {
			for i := range reps {
				r := &reps[i]
				if r.Heap != e.Name || r.Group != 0 && r.Group != e.Group {
					// Another heap's, or a replica of a heap of the name
					// dropped since that a lagging node keeps yet.
					continue
				}
				hs.ReplicaApplied[node] = r.Applied
				if r.Lost != "" {
					if hs.Lost == nil {
						hs.Lost = map[string]string{}
					}
					hs.Lost[node] = r.Lost
				}
				if r.Stuck != "" {
					if hs.Stuck == nil {
						hs.Stuck = map[string]string{}
					}
					hs.Stuck[node] = r.Stuck
				}
				if r.LogFailed {
					hs.LogFailed = append(hs.LogFailed, node)
				}
				if best == nil || (r.Leading && !best.Leading) || (r.Leading == best.Leading && r.Applied > best.Applied) ||
					(r.Leading == best.Leading && r.Applied == best.Applied && best.Leader == "" && r.Leader != "") {
					best = r
				}
			}
		}
		if best != nil {
			hs.Leader, hs.Voters, hs.Learners, hs.Joint, hs.Applied = best.Leader, best.Voters, best.Learners, best.Joint, best.Applied
		}
		hs.Unreported = unreported(hs)
		slices.Sort(hs.LogFailed)
		out = append(out, hs)
	}
	return out
}

// unreported returns the voters and learners of hs whose applied index
// hs.ReplicaApplied lacks, sorted, or nil.
func unreported(hs HeapStatus) []string {
	var out []string
	for _, node := range slices.Concat(hs.Voters, hs.Learners) {
		if _, ok := hs.ReplicaApplied[node]; !ok && !slices.Contains(out, node) {
			out = append(out, node)
		}
	}
	slices.Sort(out)
	return out
}
