package main

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// explainNotFound turns err, a node's "not found" (404) to command cmd
// on heap, into what is missing and what to do: a heap the cluster does
// not have (asked of the node's heap directory), or, for "get", a root
// or an object (what, as given) the heap does not hold. The node's
// answer said only "oss: heap "bnak": oss: no such heap" or "oss: not
// found: root "x"", which named no heap and no remedy. Any other error,
// or one whose heap cannot be looked up, is err as it is.
func explainNotFound(c *admin.Client, cmd, heap, what string, err error) error {
	if !errors.Is(err, oss.ErrNotFound) && !errors.Is(err, oss.ErrNoHeap) {
		return err
	}
	exists, lerr := heapExists(c, heap) // client.go
	switch {
	case lerr != nil:
		return err
	case !exists && cmd == "heaps drop":
		return &explained{fmt.Sprintf("%s: the cluster has no heap %q, so nothing was dropped (\"ossd heaps\" lists its heaps)", cmd, heap), err}
	case !exists && cmd == "heaps set-replicas":
		return &explained{fmt.Sprintf("%s: the cluster has no heap %q, so nothing was changed (\"ossd heaps\" lists its heaps; \"%s\" creates it)", cmd, heap, suggest("ossd heaps create", "--replicas N", heap)), err}
	case !exists:
		return &explained{fmt.Sprintf("%s: the cluster has no heap %q (\"ossd heaps\" lists its heaps; \"%s\" creates it, as does \"%s\")",
			cmd, heap, suggest("ossd heaps create", "", heap), suggest("ossd put", "", heap, "ROOT", "JSON")), err}
	case what == "":
		return err
	}
	if _, perr := uuid.Parse(what); perr == nil {
		return &explained{fmt.Sprintf("%s: heap %q holds no object %s (deleted, or an object of another heap), and has no root of that name", cmd, heap, what), err}
	}
	return &explained{fmt.Sprintf("%s: heap %q has no root %q (\"%s\" sets it)", cmd, heap, what, suggest("ossd put", "", heap, what, "JSON")), err}
}

// explained is an error told in the CLI's words: msg, then err's own
// text (which scripts may look for: "no such heap"); it matches what err
// matches.
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg + ": " + e.err.Error() }

func (e *explained) Unwrap() error { return e.err }
