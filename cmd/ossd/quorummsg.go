package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// explainNoQuorum adds to a "no quorum" or "outcome unknown" answer about
// heap which of its voters the node sees down and what brings the heap
// back: with two of three nodes stopped, "put" and "get --fresh" said
// only that the heap "has no leader in reach". Other errors are returned
// as they are.
//
// A write whose outcome is unknown (ErrCommitUnknown: its commit may
// have been carried out) is never told to "try again": each branch tells
// the user to read it back first (readBackFirst), where "an election may
// be under way; try again" followed by the read-back advice contradicted
// it.
func explainNoQuorum(c *admin.Client, heap string, err error) error {
	if !errors.Is(err, oss.ErrNoQuorum) && !errors.Is(err, oss.ErrCommitUnknown) {
		return err
	}
	tryAgain, inAMoment, then := "try again", "try again in a moment", ""
	if errors.Is(err, oss.ErrCommitUnknown) {
		tryAgain = readBackFirst(heap)
		inAMoment, then = tryAgain, "\n"+tryAgain
	}
	if logGone(err) {
		// The node's log was removed or moved while it ran: it commits
		// nothing more until it is rebuilt, and no election mends that.
		return fmt.Errorf("%w\nthis node's write-ahead log is gone (removed or moved while it ran): it commits nothing more; commit through another node, and rebuild this one with --rebuild-replica --join (its replicas come back from its peers)%s", err, then)
	}
	if logRefused(err) {
		// The node's own log refused the record: its voters' liveness
		// is beside the point, and "an election may be under way" would
		// send the user the wrong way.
		return fmt.Errorf("%w\nthe node's own log refused the write (its disk): free space or mend the disk it writes to, then read the value back to learn the outcome%s", err, then)
	}
	if strings.Contains(err.Error(), "cannot write its log") {
		// The node's replica applies nothing while its log refuses its
		// writes (a full disk): no election or retry through it mends
		// that.
		return fmt.Errorf("%w\nfree space or mend the disk the node writes its log to; meanwhile read and write through another node%s", err, then)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, serr := c.Status(ctx)
	if serr != nil {
		return err
	}
	live := map[string]bool{}
	for _, m := range st.Members {
		live[m.Name] = !slices.Contains(st.Unreachable, m.Name)
	}
	for _, h := range st.Heaps {
		if h.Name != heap || len(h.Voters) == 0 {
			continue
		}
		var down []string
		for _, v := range h.Voters {
			if !live[v] {
				down = append(down, v)
			}
		}
		need := len(h.Voters)/2 + 1
		if len(down) == 0 {
			return fmt.Errorf("%w\nits voters (%s) are all live members: an election may be under way; %s", err, strings.Join(h.Voters, ","), tryAgain)
		}
		if up := len(h.Voters) - len(down); up >= need {
			// The live voters are a majority: the heap elects a leader
			// without the others, and none needs to be started for it.
			return fmt.Errorf("%w\nits voters are %s; %s, but the %d live ones are a majority of the %d: a leader may be being elected; %s",
				err, strings.Join(h.Voters, ","), isAre(down), up, len(h.Voters), inAMoment)
		}
		start := need - (len(h.Voters) - len(down))
		var startable, former []string
		for _, v := range down {
			// NAME/RAFTID is a former incarnation of a node (oss.Stats):
			// the raft ID it ran under before it lost its data, which
			// nothing can start again.
			if strings.Contains(v, "/") {
				former = append(former, v)
			} else {
				startable = append(startable, v)
			}
		}
		msg := fmt.Sprintf("its voters are %s; %s: a commit needs %d of the %d", strings.Join(h.Voters, ","), isAre(down), need, len(h.Voters))
		if len(former) > 0 {
			msg += fmt.Sprintf("; %s ran under a raft ID its node no longer has (its data was lost) and cannot come back", strings.Join(former, ", "))
		}
		if len(startable) < start {
			return fmt.Errorf("%w\n%s; too few of the others can be started again to make a majority%s", err, msg, then)
		}
		return fmt.Errorf("%w\n%s; start at least %d of %s again (a voter is replaced only by a heap that has its majority)%s",
			err, msg, start, strings.Join(startable, ", "), then)
	}
	return err
}

// readBackFirst is the advice on a write to heap whose outcome is
// unknown, in the words of outcomeUnknown (unknownmsg.go).
func readBackFirst(heap string) string {
	return fmt.Sprintf("%s: the node may have carried it out; read it back (%s) before trying again", unknownPhrase, suggest("ossd get", "--fresh", heap, "ROOT"))
}

// isAre returns names joined with "and", and that they are not live
// members, in the singular or the plural.
func isAre(names []string) string {
	if len(names) == 1 {
		return names[0] + " is not a live member"
	}
	return strings.Join(names, " and ") + " are not live members"
}

// logGone reports whether err is a commit refused because the node's
// write-ahead log is gone, as the node words it (oss's Heap.logError).
func logGone(err error) bool {
	return strings.Contains(err.Error(), "the node's write-ahead log is gone")
}

// logRefused reports whether err is a commit the node's own write-ahead
// log refused, as the node words it (oss's Heap.logError): a full or
// failing disk.
func logRefused(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "the log cannot be written") || strings.Contains(msg, "the write-ahead log has failed")
}
