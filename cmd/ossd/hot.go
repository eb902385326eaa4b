package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/objectsharing/oss/oss/admin"
)

// hot runs "ossd hot HEAP": the objects, roots and scans that made the
// heap's transactions conflict lately, hottest first, as the node's
// replica counted them.
func hot(args []string) error {
	fs, dial := clientFlags("ossd hot")
	asJSON := fs.Bool("json", false, "print the list as JSON")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: ossd hot HEAP [--http ADDR,...] [--json]

Lists the objects, roots and scans that made HEAP's transactions conflict
lately, hottest first: how many conflicts each made (decayed: a count
halves every minute), and the transaction that lost last, its node and its
operation (oss.WithOperation) where known.

`)
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("hot: want HEAP" + flagAfterDashes(fs, pos))
	}
	ctx, c, done, err := connect(dial)
	if err != nil {
		return err
	}
	defer done()
	h, err := c.Hot(ctx, pos[0])
	if err != nil {
		return explainNotFound(c, "hot", pos[0], "", fmt.Errorf("hot: %w", err)) // notfound.go
	}
	if *asJSON {
		return printJSON(h)
	}
	printHot(os.Stdout, &h, time.Now())
	return nil
}

func printHot(w io.Writer, h *admin.Hot, now time.Time) {
	if h.Stale != "" {
		fmt.Fprintf(w, "this node's replica of heap %q: %s; the list may be old\n", h.Heap, h.Stale)
	}
	if len(h.Objects) == 0 {
		fmt.Fprintf(w, "no conflicts on heap %q since its replica opened on this node\n", h.Heap)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "OBJECT\tLATELY\tCONFLICTS\tLAST\tLAST NODE\tLAST OP\tLAST TX\n")
	for _, o := range h.Objects {
		lately := fmt.Sprintf("%.1f", o.Lately)
		if o.Overcount >= 0.05 {
			lately += fmt.Sprintf(" (±%.1f)", o.Overcount)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s ago\t%s\t%s\t%s\n", o.Name(), lately, o.Conflicts,
			now.Sub(o.Last).Round(time.Millisecond), orDefault(nameSaid(o.LastNode), "-"), orDefault(nameSaid(o.LastOp), "-"), o.LastTx) // shellword.go
	}
	tw.Flush()
	fmt.Fprintf(w, "\nLATELY counts conflicts, each halved every %v of age; CONFLICTS since the object entered the table of the 32 hottest.\n",
		time.Duration(h.HalfLifeSeconds*float64(time.Second)))
}
