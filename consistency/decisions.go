package consistency

import (
	"sort"

	"github.com/google/uuid"
)

// The deduplication memory keeps up to DefaultDedupWindow decisions a
// replica (262,144). As a []Result they were 72 bytes each with a string
// the collector scans, 19 MB a replica it marked at every cycle, and the
// slice grew by copying all of it every quarter of the window. Here a
// decision is 48 bytes without a pointer, in blocks of blockLen that are
// never copied: only the slice of block pointers is, at most a thousand
// pointers. The rare decision with a root conflict keeps the root's name
// apart, in roots.

// decision is a Result as the memory keeps it: no Duplicate (a decision
// remembered is a first copy's), and the conflicting root's name, if
// any, in decisionLog.roots.
type decision struct {
	txID       uuid.UUID
	conflictID uuid.UUID
	index      uint64
	outcome    Outcome
	scan       bool
	// root is 0, or 1 + the number of the root conflict's name among
	// all a log was given (mod 2^32; see decisionLog.roots).
	root uint32
}

// blockLen is the number of decisions in a block: 12 KiB, the least a
// replica that has decided anything holds (a node may hold many small
// heaps); a full window is 1,024 blocks.
const blockLen = 256

type decisionBlock [blockLen]decision

// decisionLog holds decisions in the order they were appended (ascending
// index, but for a snapshot's out of order, which no replica writes). A
// decision once appended is never changed: appending writes past the
// end, pruning drops from the front, so a copy of the log (its slices
// capped at their lengths, view) is a snapshot of it that later appends
// and prunes leave alone.
type decisionLog struct {
	blocks []*decisionBlock
	head   int // the first live decision's place in blocks[0]
	n      int // live decisions
	// roots are the names of the roots that conflicted in the live
	// decisions, in the same order; roots[0] is the rootBase-th name
	// the log was given (counted from 0, mod 2^32).
	roots    []string
	rootBase uint32
	// dead counts the pointers before blocks[0] in its array: blocks
	// dropped that the array still holds until it is copied.
	dead int
}

func (d *decisionLog) len() int { return d.n }

// at returns the i-th live decision.
func (d *decisionLog) at(i int) *decision {
	i += d.head
	return &d.blocks[i/blockLen][i%blockLen]
}

// push appends r's decision.
func (d *decisionLog) push(r Result) {
	end := d.head + d.n
	if end == len(d.blocks)*blockLen {
		if len(d.blocks) == cap(d.blocks) {
			d.dead = 0 // append moves the live pointers to a new array
		}
		d.blocks = append(d.blocks, new(decisionBlock))
	}
	x := decision{txID: r.TxID, conflictID: r.ConflictID, index: r.Index, outcome: r.Outcome, scan: r.ConflictScan}
	if r.ConflictRoot != "" {
		x.root = d.rootBase + uint32(len(d.roots)) + 1
		d.roots = append(d.roots, r.ConflictRoot)
	}
	d.blocks[end/blockLen][end%blockLen] = x
	d.n++
}

// dropFront forgets the first k decisions.
func (d *decisionLog) dropFront(k int) {
	roots := 0
	for i := range k {
		if d.at(i).root != 0 {
			roots++
		}
	}
	d.roots = d.roots[roots:]
	d.rootBase += uint32(roots)
	d.head += k
	d.n -= k
	if gone := d.head / blockLen; gone > 0 {
		d.blocks = d.blocks[gone:]
		d.head -= gone * blockLen
		if d.dead += gone; d.dead*4 > len(d.blocks) {
			// A new array of pointers, so that the blocks dropped
			// are garbage once no snapshot holds them (no more than
			// a quarter of the live ones are held meanwhile).
			d.blocks = append(make([]*decisionBlock, 0, len(d.blocks)+len(d.blocks)/4+1), d.blocks...)
			d.dead = 0
		}
	}
}

// view returns a snapshot of the log in O(1).
func (d *decisionLog) view() decisionLog {
	v := *d
	v.blocks = v.blocks[:len(v.blocks):len(v.blocks)]
	v.roots = v.roots[:len(v.roots):len(v.roots)]
	return v
}

// rootOf returns the name of the root that conflicted in x, "" if none.
func (d *decisionLog) rootOf(x *decision) string {
	if x.root == 0 {
		return ""
	}
	return d.roots[x.root-1-d.rootBase]
}

// result returns the i-th live decision as a Result.
func (d *decisionLog) result(i int) Result {
	x := d.at(i)
	return Result{TxID: x.txID, Index: x.index, Outcome: x.outcome, ConflictID: x.conflictID, ConflictRoot: d.rootOf(x), ConflictScan: x.scan}
}

// search returns the place of the first live decision at or after index,
// in a log in index order.
func (d *decisionLog) search(index uint64) int {
	return sort.Search(d.n, func(i int) bool { return d.at(i).index >= index })
}

// segment returns the live decisions of block b.
func (d *decisionLog) segment(b int) []decision {
	from, to := 0, blockLen
	if b == 0 {
		from = d.head
	}
	if end := d.head + d.n - b*blockLen; end < to {
		to = max(end, from)
	}
	return d.blocks[b][from:to]
}

// each calls fn with every live decision, in order.
func (d *decisionLog) each(fn func(x *decision)) {
	for b := range d.blocks {
		seg := d.segment(b)
		for j := range seg {
			fn(&seg[j])
		}
	}
}
