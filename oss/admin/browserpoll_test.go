package admin_test

import (
	"context"
	"fmt"
	"time"

	"github.com/chromedp/chromedp"
)

// pollPage evaluates the JavaScript expression expr in the page of ctx's
// tab every 100 ms until it is true, for up to within, and returns the
// last error if it never was.
//
// chromedp.Poll runs its predicate in the execution context chromedp last
// recorded for the tab's frame, and chromedp records a page's contexts
// from the browser's events on a goroutine of its own, after the
// Navigate that caused them has returned: on a loaded machine the Poll
// after a Navigate asked for the old page's context, gone, and failed
// at once ("Cannot find context with specified id (-32000)", the page
// already showing what it waited for). Evaluate names no context: the
// browser evaluates in the page's current one.
func pollPage(ctx context.Context, expr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("Boolean("+expr+")"))
		switch {
		case err == nil && ok:
			return nil
		case err != nil:
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("not true within %v (last error: %w)", within, last)
			}
			return fmt.Errorf("not true within %v", within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
