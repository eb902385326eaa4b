package check

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// edge kinds of the dependency graph, as bits.
const (
	ww uint8 = 1 << iota // write-write: the target appended after the source
	wr                   // write-read: the target read the source's append
	rw                   // read-write: the target appended after what the source read
	rt                   // real time: the source ended before the target began
)

func edgeName(k uint8) string {
	var parts []string
	for _, e := range []struct {
		bit  uint8
		name string
	}{{ww, "ww"}, {wr, "wr"}, {rw, "rw"}, {rt, "rt"}} {
		if k&e.bit != 0 {
			parts = append(parts, e.name)
		}
	}
	return strings.Join(parts, "+")
}

// graph is the dependency graph between transactions.
type graph struct {
	out map[int]map[int]uint8
}

func (g *graph) add(from, to int, kind uint8) {
	if from == to {
		return
	}
	m := g.out[from]
	if m == nil {
		m = map[int]uint8{}
		g.out[from] = m
	}
	m[to] |= kind
}

// ListAppendResult is what CheckListAppend found.
type ListAppendResult struct {
	Txns      int // transactions checked
	OK        int // of which committed
	Anomalies []Anomaly
}

// CheckListAppend checks a list-append history for the anomalies
// serializability rules out (and, for transactions marked Realtime, strict
// serializability).
func CheckListAppend(h []Txn) ListAppendResult {
	c := &listAppend{h: h, byID: make(map[int]*Txn, len(h)), g: &graph{out: map[int]map[int]uint8{}}}
	c.res.Txns = len(h)
	for i := range h {
		c.byID[h[i].ID] = &h[i]
		if h[i].Status == OK {
			c.res.OK++
		}
	}
	c.writers()
	c.versionOrder()
	c.checkReads()
	c.dependencies()
	c.lostUpdates()
	c.staleReads()
	c.realtimeOrder()
	c.res.Anomalies = append(c.res.Anomalies, c.g.cycles(c.byID)...)
	return c.res
}

// kv is an append: values are unique per key.
type kv struct{ key, value int }

// readOf is what a transaction read of a key, before its own appends.
type readOf struct {
	txn, key int
	list     []int
}

// listAppend is one check of a list-append history, in the steps
// CheckListAppend takes; each step uses what the ones before found.
type listAppend struct {
	h    []Txn
	byID map[int]*Txn
	res  ListAppendResult

	writer     map[kv]int    // who appended what
	lastAppend map[kv]bool   // the writer's final append to that key
	order      map[int][]int // key → its version order: the longest list read
	longest    map[int]int   // key → txn that read the longest list
	g          *graph        // over committed transactions (and unknown ones whose appends were seen)
	reads      []readOf      // of committed transactions, of keys before their own appends
}

func (c *listAppend) report(a Anomaly) { c.res.Anomalies = append(c.res.Anomalies, a) }

// committed reports whether id committed, or may have.
func (c *listAppend) committed(id int) bool {
	s := c.byID[id].Status
	return s == OK || s == Info
}

// writers finds who appended what, reporting a value appended twice.
func (c *listAppend) writers() {
	c.writer = map[kv]int{}
	c.lastAppend = map[kv]bool{}
	for i := range c.h {
		t := &c.h[i]
		final := map[int]int{}
		for _, m := range t.Mops {
			if m.Kind == Append {
				if w, dup := c.writer[kv{m.Key, m.Value}]; dup {
					c.report(Anomaly{Kind: "invalid-history", Txns: []int{w, t.ID}, Explain: fmt.Sprintf("value %d appended to key %d twice", m.Value, m.Key)})
				}
				c.writer[kv{m.Key, m.Value}] = t.ID
				final[m.Key] = m.Value
			}
		}
		for k, v := range final {
			c.lastAppend[kv{k, v}] = true
		}
	}
}

// versionOrder takes each key's version order, the longest list read
// (every read must be a prefix of it), and reports a value in it twice.
func (c *listAppend) versionOrder() {
	c.order = map[int][]int{}
	c.longest = map[int]int{}
	committedReads(c.h, func(t *Txn, m Mop) {
		if len(m.List) > len(c.order[m.Key]) {
			c.order[m.Key], c.longest[m.Key] = m.List, t.ID
		}
	})
	for key, list := range c.order {
		seen := map[int]bool{}
		for _, v := range list {
			if seen[v] {
				c.report(Anomaly{Kind: "duplicate", Txns: []int{c.longest[key]}, Explain: fmt.Sprintf("value %d appears twice in key %d: %s", v, key, c.byID[c.longest[key]])})
				break
			}
			seen[v] = true
		}
	}
}

// checkReads reports reads out of the version order, and reads of values
// no one appended, of aborted appends (G1a) and of intermediate ones (G1b).
func (c *listAppend) checkReads() {
	committedReads(c.h, func(t *Txn, m Mop) {
		full := c.order[m.Key]
		if !isPrefix(m.List, full) {
			c.report(Anomaly{Kind: "incompatible-order", Txns: []int{t.ID, c.longest[m.Key]},
				Explain: fmt.Sprintf("key %d read as %v and as %v\n  %s\n  %s", m.Key, m.List, full, t, c.byID[c.longest[m.Key]])})
			return
		}
		for j, v := range m.List {
			w, ok := c.writer[kv{m.Key, v}]
			switch {
			case !ok:
				c.report(Anomaly{Kind: "garbage-read", Txns: []int{t.ID}, Explain: fmt.Sprintf("key %d holds %d, which no transaction appended: %s", m.Key, v, t)})
			case c.byID[w].Status == Fail:
				c.report(Anomaly{Kind: "G1a", Txns: []int{w, t.ID}, Explain: fmt.Sprintf("aborted read: %s\n  read the append of %s", t, c.byID[w])})
			case j == len(m.List)-1 && w != t.ID && !c.lastAppend[kv{m.Key, v}]:
				c.report(Anomaly{Kind: "G1b", Txns: []int{w, t.ID}, Explain: fmt.Sprintf("intermediate read: %s\n  read a value %s appended before another to the same key", t, c.byID[w])})
			}
		}
	})
}

// dependencies adds the write-write, write-read and read-write edges to
// the graph, and collects what each committed transaction read of each
// key before its own appends.
func (c *listAppend) dependencies() {
	for key, list := range c.order {
		for j := 1; j < len(list); j++ {
			a, aok := c.writer[kv{key, list[j-1]}]
			b, bok := c.writer[kv{key, list[j]}]
			if aok && bok && c.committed(a) && c.committed(b) {
				c.g.add(a, b, ww)
			}
		}
	}
	for i := range c.h {
		t := &c.h[i]
		if t.Status != OK {
			continue
		}
		own := map[int]bool{}
		for _, m := range t.Mops {
			switch m.Kind {
			case Append:
				own[m.Key] = true
			case Read:
				full := c.order[m.Key]
				if !isPrefix(m.List, full) {
					continue // reported by checkReads
				}
				if n := len(m.List); n > 0 {
					if w, ok := c.writer[kv{m.Key, m.List[n-1]}]; ok && c.committed(w) {
						c.g.add(w, t.ID, wr)
					}
				}
				// The next version, by another transaction, came after
				// what this one read.
				if n := len(m.List); n < len(full) {
					if w, ok := c.writer[kv{m.Key, full[n]}]; ok && c.committed(w) && w != t.ID {
						c.g.add(t.ID, w, rw)
					}
				}
				if !own[m.Key] {
					c.reads = append(c.reads, readOf{t.ID, m.Key, m.List})
				}
			}
		}
	}
}

// lostUpdates reports two committed transactions that read the same
// version of a key and both appended to it.
func (c *listAppend) lostUpdates() {
	type keyVersion struct {
		key  int
		last int // the last value read, or -1 for the empty list
		n    int
	}
	readers := map[keyVersion][]int{}
	for _, r := range c.reads {
		t := c.byID[r.txn]
		appends := false
		for _, m := range t.Mops {
			if m.Kind == Append && m.Key == r.key {
				appends = true
			}
		}
		if !appends {
			continue
		}
		kvn := keyVersion{r.key, -1, len(r.list)}
		if len(r.list) > 0 {
			kvn.last = r.list[len(r.list)-1]
		}
		readers[kvn] = append(readers[kvn], r.txn)
	}
	for kvn, ts := range readers {
		if len(ts) > 1 {
			slices.Sort(ts)
			ts = slices.Compact(ts)
			if len(ts) < 2 {
				continue
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%d transactions read key %d at the same version (%d elements) and appended to it:", len(ts), kvn.key, kvn.n)
			for _, id := range ts[:2] {
				fmt.Fprintf(&b, "\n  %s", c.byID[id])
			}
			c.report(Anomaly{Kind: "lost-update", Txns: ts[:2], Explain: b.String()})
		}
	}
}

// keyAck is an acknowledged append to a key: its value, and when its
// writer ended.
type keyAck struct {
	end   int64
	value int
}

// staleReads reports a Realtime transaction that began after a committed
// append was acknowledged and did not see it.
func (c *listAppend) staleReads() {
	ackedAt := map[kv]int64{} // (key, value) → end of its writer
	for i := range c.h {
		t := &c.h[i]
		if t.Status != OK {
			continue
		}
		for _, m := range t.Mops {
			if m.Kind == Append {
				ackedAt[kv{m.Key, m.Value}] = t.End
			}
		}
	}
	acks := map[int][]keyAck{}
	for k, end := range ackedAt {
		acks[k.key] = append(acks[k.key], keyAck{end, k.value})
	}
	for k := range acks {
		sort.Slice(acks[k], func(i, j int) bool { return acks[k][i].end < acks[k][j].end })
	}
	// Every read of a Realtime transaction, those after its own appends
	// too: they add to what it read, and hide nothing it missed.
	committedReads(c.h, func(t *Txn, m Mop) {
		if !t.Realtime {
			return
		}
		in := map[int]bool{}
		for _, v := range m.List {
			in[v] = true
		}
		for _, a := range acks[m.Key] {
			if a.end >= t.Start {
				break
			}
			if !in[a.value] {
				w := c.writer[kv{m.Key, a.value}]
				c.report(Anomaly{Kind: "stale-read", Txns: []int{w, t.ID}, Explain: fmt.Sprintf("%s\n  began after %s was acknowledged, and missed its append of %d", t, c.byID[w], a.value)})
				break
			}
		}
	})
	c.lostWrites(acks)
}

// lostWrites reports an acknowledged append missing from a list read (by
// any committed transaction, a plain view too) that holds the append of a
// Realtime transaction begun after it was acknowledged: the store orders
// that one after it, so every list holding the later append holds the
// earlier one. Each append lost is reported once.
func (c *listAppend) lostWrites(acks map[int][]keyAck) {
	reported := map[kv]bool{}
	committedReads(c.h, func(t *Txn, m Mop) {
		in := map[int]bool{}
		latest, by := int64(math.MinInt64), -1 // the latest start of a Realtime writer read
		for _, v := range m.List {
			in[v] = true
			if w, ok := c.writer[kv{m.Key, v}]; ok && c.committed(w) && c.byID[w].Realtime && c.byID[w].Start > latest {
				latest, by = c.byID[w].Start, w
			}
		}
		for _, a := range acks[m.Key] {
			if a.end >= latest {
				break
			}
			if lost := (kv{m.Key, a.value}); !in[a.value] && !reported[lost] {
				reported[lost] = true
				w := c.writer[lost]
				c.report(Anomaly{Kind: "lost-write", Txns: []int{w, by, t.ID}, Explain: fmt.Sprintf("%s\n  read the append of %s\n  begun after %s was acknowledged, without its append of %d", t, c.byID[by], c.byID[w], a.value)})
			}
		}
	})
}

// realtimeOrder adds the real-time order between Realtime transactions to
// the graph, as a transitive reduction: each links from the completed
// frontier at its start.
func (c *listAppend) realtimeOrder() {
	type event struct {
		at    int64
		start bool
		id    int
	}
	var evs []event
	for i := range c.h {
		t := &c.h[i]
		if t.Status == OK && t.Realtime {
			evs = append(evs, event{t.Start, true, t.ID}, event{t.End, false, t.ID})
		}
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return evs[i].start && !evs[j].start // [a, b] and [b, c] overlap
	})
	frontier := map[int]bool{}
	preds := map[int][]int{}
	for _, e := range evs {
		if e.start {
			for p := range frontier {
				preds[e.id] = append(preds[e.id], p)
				c.g.add(p, e.id, rt)
			}
			continue
		}
		for _, p := range preds[e.id] {
			delete(frontier, p)
		}
		frontier[e.id] = true
	}
}

// committedReads calls fn for every read of every committed transaction.
func committedReads(h []Txn, fn func(*Txn, Mop)) {
	for i := range h {
		t := &h[i]
		if t.Status != OK {
			continue
		}
		for _, m := range t.Mops {
			if m.Kind == Read {
				fn(t, m)
			}
		}
	}
}

// isPrefix reports whether list is a prefix of full.
func isPrefix(list, full []int) bool {
	return len(list) <= len(full) && slices.Equal(list, full[:len(list)])
}

// cycles finds, in each strongly connected component, the shortest cycle
// of the most specific class: G0 (ww only), G1c (ww, wr), G-single (one
// rw) or G2, then the same with real-time edges.
func (g *graph) cycles(byID map[int]*Txn) []Anomaly {
	var out []Anomaly
	for _, scc := range g.sccs() {
		if len(scc) < 2 {
			continue
		}
		in := map[int]bool{}
		for _, v := range scc {
			in[v] = true
		}
		for _, class := range []struct {
			name    string
			allowed uint8
		}{{"G0", ww}, {"G1c", ww | wr}, {"G2", ww | wr | rw}, {"G2-realtime", ww | wr | rw | rt}} {
			cyc, kinds := g.shortestCycle(scc, in, class.allowed)
			if cyc == nil {
				continue
			}
			name := class.name
			if class.allowed&rw != 0 {
				rws := 0
				for _, k := range kinds {
					if k&rw != 0 && k&(ww|wr|rt) == 0 {
						rws++
					}
				}
				switch {
				case rws == 0:
					name = strings.Replace(name, "G2", "G1c", 1)
				case rws == 1:
					name = strings.Replace(name, "G2", "G-single", 1)
				}
			}
			var b strings.Builder
			fmt.Fprintf(&b, "a cycle of %d transactions:", len(cyc))
			for i, id := range cyc {
				fmt.Fprintf(&b, "\n  %s\n    -%s->", byID[id], edgeName(kinds[i]))
			}
			fmt.Fprintf(&b, " T%d", cyc[0])
			out = append(out, Anomaly{Kind: name, Txns: cyc, Explain: b.String()})
			break
		}
	}
	return out
}

// shortestCycle returns the shortest cycle within the component using only
// allowed edges, with the kinds of its edges (restricted to allowed), or
// nil. It searches from at most 64 of the component's members.
func (g *graph) shortestCycle(scc []int, in map[int]bool, allowed uint8) ([]int, []uint8) {
	var best []int
	starts := scc
	if len(starts) > 64 {
		starts = starts[:64]
	}
	for _, s := range starts {
		// BFS from s back to s.
		prev := map[int]int{s: -1}
		queue := []int{s}
		found := false
		for len(queue) > 0 && !found {
			v := queue[0]
			queue = queue[1:]
			for _, w := range sortedKeys(g.out[v]) {
				if !in[w] || g.out[v][w]&allowed == 0 {
					continue
				}
				if w == s {
					prev[s] = v
					found = true
					break
				}
				if _, seen := prev[w]; !seen {
					prev[w] = v
					queue = append(queue, w)
				}
			}
		}
		if !found {
			continue
		}
		cyc := []int{s}
		for v := prev[s]; v != s; v = prev[v] {
			cyc = append(cyc, v)
		}
		slices.Reverse(cyc[1:])
		if best == nil || len(cyc) < len(best) {
			best = cyc
		}
	}
	if best == nil {
		return nil, nil
	}
	kinds := make([]uint8, len(best))
	for i, v := range best {
		kinds[i] = g.out[v][best[(i+1)%len(best)]] & allowed
	}
	return best, kinds
}

func sortedKeys(m map[int]uint8) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sccs returns the graph's strongly connected components (Tarjan,
// iterative), each sorted.
func (g *graph) sccs() [][]int {
	index := map[int]int{}
	low := map[int]int{}
	onStack := map[int]bool{}
	var stack []int
	var out [][]int
	next := 0
	var nodes []int
	for v := range g.out {
		nodes = append(nodes, v)
	}
	slices.Sort(nodes)
	type frame struct {
		v     int
		succ  []int
		child int
	}
	for _, root := range nodes {
		if _, ok := index[root]; ok {
			continue
		}
		frames := []frame{{v: root, succ: sortedKeys(g.out[root])}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(frames) > 0 {
			f := &frames[len(frames)-1]
			if f.child < len(f.succ) {
				w := f.succ[f.child]
				f.child++
				if _, ok := index[w]; !ok {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					frames = append(frames, frame{v: w, succ: sortedKeys(g.out[w])})
				} else if onStack[w] {
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			frames = frames[:len(frames)-1]
			if len(frames) > 0 {
				p := frames[len(frames)-1].v
				low[p] = min(low[p], low[v])
			}
			if low[v] == index[v] {
				var comp []int
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp = append(comp, w)
					if w == v {
						break
					}
				}
				slices.Sort(comp)
				out = append(out, comp)
			}
		}
	}
	return out
}
