package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// noteNoHeap tells, after "acl grant" on a heap the cluster does not
// have, that the grant waits for a heap of that name: a grant on a
// mistyped name succeeded and said nothing, and the client it was meant
// for was then refused the heap it asked for. A grant may rightly come
// before its heap (admin lets the client create it), so this is a note,
// not a refusal. Prefixes ("game-*") name no one heap and are not
// checked; a heap list the node cannot give leaves the note out.
func noteNoHeap(c *admin.Client, notes io.Writer, g oss.Grant) {
	if strings.HasSuffix(g.Heap, "*") {
		return
	}
	exists, err := heapExists(c, g.Heap) // client.go
	if err != nil || exists {
		return
	}
	fmt.Fprintf(notes, "ossd: acl grant: the cluster has no heap %q yet: the grant applies to a heap created under that name (\"ossd heaps\" lists the heaps; \"%s\" removes the grant)\n",
		g.Heap, "ossd acl revoke --to "+shellWord(g.Who)+" --heap "+shellWord(g.Heap)+" --perm "+string(g.Perm))
}
