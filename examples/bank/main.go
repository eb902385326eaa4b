// Command bank is a tour of an OSS heap embedded in one process.
//
// It opens a heap, creates bank accounts, and runs concurrent transfers from
// many goroutines, each an Update transaction that reads two accounts and
// writes both. A progress line shows commits per second and conflicts
// (transactions that read something another one changed first, and ran
// again). Meanwhile a checker takes Views and verifies that every snapshot
// holds the same total. At the end the total is checked once more.
//
//	go run ./examples/bank [-duration 10s] [-workers 64] [-accounts 1000] [-seed N]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/objectsharing/oss/oss"
)

// Account is one bank account, an object of the heap.
type Account struct {
	Owner   string
	Balance int64
}

// Bank is the heap's root object: it lists the accounts.
type Bank struct {
	Accounts []oss.Ref[Account]
}

const initialBalance = 1000

type options struct {
	duration time.Duration
	workers  int
	accounts int
	hot      int
	seed     uint64
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long to run transfers")
	flag.IntVar(&o.workers, "workers", 64, "concurrent goroutines running transfers")
	flag.IntVar(&o.accounts, "accounts", 1000, "number of accounts")
	flag.IntVar(&o.hot, "hot", 10, "size of the hot set of accounts that one transfer in ten touches")
	flag.Uint64Var(&o.seed, "seed", uint64(time.Now().UnixNano()), "random seed")
	flag.Parse()
	if o.accounts < 2 || o.workers < 1 || o.hot < 2 || o.hot > o.accounts {
		fmt.Fprintln(os.Stderr, "demo: need -accounts >= 2, -workers >= 1, 2 <= -hot <= -accounts")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type counters struct {
	transfers atomic.Uint64 // committed transfers
	declined  atomic.Uint64 // transfers that found too little money
	unknown   atomic.Uint64 // outcomes unknown because the run ended mid-commit
	checks    atomic.Uint64 // snapshots whose total was verified
}

func run(ctx context.Context, o options, out, progress io.Writer) error {
	fmt.Fprintf(out, "OSS demo: %d accounts, %d workers, %v, seed %d\n", o.accounts, o.workers, o.duration, o.seed)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := oss.Start(ctx, &oss.Config{Name: "demo", Logger: logger})
	if err != nil {
		return err
	}
	defer n.Close(context.Background())
	h, err := n.CreateHeap(ctx, "bank", nil)
	if err != nil {
		return err
	}
	accounts, err := createAccounts(ctx, h, o.accounts)
	if err != nil {
		return err
	}
	want := int64(o.accounts) * initialBalance
	fmt.Fprintf(out, "created %d accounts holding %d in all\n", len(accounts), want)

	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var c counters
	var wg sync.WaitGroup
	errc := make(chan error, o.workers+1)
	for w := range o.workers {
		rng := rand.New(rand.NewPCG(o.seed, uint64(w)))
		wg.Go(func() {
			if err := transfers(runCtx, h, accounts, o.hot, rng, &c); err != nil {
				errc <- err
				cancel()
			}
		})
	}
	wg.Go(func() {
		if err := checkSnapshots(runCtx, h, want, &c); err != nil {
			errc <- err
			cancel()
		}
	})
	start := time.Now()
	showProgress(runCtx, h, &c, start, progress)
	wg.Wait()
	elapsed := time.Since(start)
	close(errc)
	for err := range errc {
		return err
	}

	// The final check runs even if the run was interrupted.
	total, err := totalBalance(context.WithoutCancel(ctx), h)
	if err != nil {
		return err
	}
	st := h.Stats()
	fmt.Fprintf(out, "\n%d transfers committed in %.1fs: %.0f per second\n", c.transfers.Load(), elapsed.Seconds(), float64(c.transfers.Load())/elapsed.Seconds())
	fmt.Fprintf(out, "%d conflicts, all retried; %d transfers declined for lack of funds\n", st.Conflicts, c.declined.Load())
	if u := c.unknown.Load(); u > 0 {
		fmt.Fprintf(out, "%d transfers were in flight when the run ended (outcome unknown to their caller; the total below counts what committed)\n", u)
	}
	fmt.Fprintf(out, "%d snapshots checked while transfers ran, each holding %d\n", c.checks.Load(), want)
	fmt.Fprintf(out, "final total %d, expected %d, log applied to index %d\n", total, want, st.Applied)
	if total != want {
		return fmt.Errorf("money is not conserved: %d, want %d", total, want)
	}
	fmt.Fprintln(out, "OK: money is conserved")
	return nil
}

// createAccounts creates the accounts in batches and binds the "bank" root.
func createAccounts(ctx context.Context, h *oss.Heap, n int) ([]oss.Ref[Account], error) {
	var all []oss.Ref[Account]
	for len(all) < n {
		var batch []oss.Ref[Account]
		err := h.Update(ctx, func(tx *oss.Tx) error {
			batch = batch[:0]
			for i := len(all); i < n && len(batch) < 200; i++ {
				ref, err := oss.New(tx, Account{Owner: fmt.Sprintf("account-%04d", i), Balance: initialBalance})
				if err != nil {
					return err
				}
				batch = append(batch, ref)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		all = append(all, batch...)
	}
	err := h.Update(ctx, func(tx *oss.Tx) error {
		bank, err := oss.New(tx, Bank{Accounts: all})
		if err != nil {
			return err
		}
		return tx.SetRoot("bank", bank.ID)
	})
	return all, err
}

// transfers moves money between random accounts until ctx ends.
func transfers(ctx context.Context, h *oss.Heap, accounts []oss.Ref[Account], hot int, rng *rand.Rand, c *counters) error {
	for ctx.Err() == nil {
		pool := len(accounts)
		if rng.IntN(10) == 0 {
			pool = hot
		}
		i := rng.IntN(pool)
		j := rng.IntN(pool - 1)
		if j >= i {
			j++
		}
		amount := 1 + rng.Int64N(100)
		moved := false
		err := h.Update(ctx, func(tx *oss.Tx) error {
			moved = false
			from, err := accounts[i].Get(tx)
			if err != nil {
				return err
			}
			to, err := accounts[j].Get(tx)
			if err != nil {
				return err
			}
			if from.Balance < amount {
				return nil
			}
			from.Balance -= amount
			to.Balance += amount
			moved = true
			if err := accounts[i].Put(tx, from); err != nil {
				return err
			}
			return accounts[j].Put(tx, to)
		})
		switch {
		case err == nil && moved:
			c.transfers.Add(1)
		case err == nil:
			c.declined.Add(1)
		case errors.Is(err, oss.ErrCommitUnknown):
			c.unknown.Add(1)
		case ctx.Err() != nil:
			return nil
		default:
			return fmt.Errorf("transfer: %w", err)
		}
	}
	return nil
}

// checkSnapshots verifies, every 100ms, that one View holds the whole sum.
func checkSnapshots(ctx context.Context, h *oss.Heap, want int64, c *counters) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		total, err := totalBalance(ctx, h)
		if err != nil {
			if ctx.Err() != nil {
				return nil // the run ended as the snapshot was taken
			}
			return err
		}
		if total != want {
			return fmt.Errorf("a snapshot holds %d, want %d", total, want)
		}
		c.checks.Add(1)
	}
}

// totalBalance sums every account in one snapshot.
func totalBalance(ctx context.Context, h *oss.Heap) (int64, error) {
	var total int64
	err := h.View(ctx, func(tx *oss.Tx) error {
		total = 0
		id, err := tx.Root("bank")
		if err != nil {
			return err
		}
		bank, err := oss.Get[Bank](tx, id)
		if err != nil {
			return err
		}
		for _, ref := range bank.Accounts {
			a, err := ref.Get(tx)
			if err != nil {
				return err
			}
			total += a.Balance
		}
		return nil
	}, nil)
	return total, err
}

// showProgress prints a progress line every 500ms until ctx ends: in place
// on a terminal, one line each otherwise.
func showProgress(ctx context.Context, h *oss.Heap, c *counters, start time.Time, w io.Writer) {
	terminal := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			terminal = true
		}
	}
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	last, lastAt := uint64(0), start
	for {
		select {
		case <-ctx.Done():
			if terminal {
				fmt.Fprintln(w)
			}
			return
		case now := <-t.C:
			done := c.transfers.Load()
			rate := float64(done-last) / now.Sub(lastAt).Seconds()
			last, lastAt = done, now
			st := h.Stats()
			line := fmt.Sprintf("%5.1fs  %9d transfers  %8.0f tx/s  %7d conflicts  %5d snapshots checked",
				now.Sub(start).Seconds(), done, rate, st.Conflicts, c.checks.Load())
			if terminal {
				fmt.Fprintf(w, "\r%s", line)
			} else {
				fmt.Fprintln(w, line)
			}
		}
	}
}
