package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// The status of an error says what a client may conclude: 503 nothing
// was written (retry), 504 the outcome is unknown. A root's PUT that
// created its heap and could not open it wrote no root (503); an unknown
// outcome stays 504 whatever its cause.
func TestFailCodeSaysWhatWasWritten(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("oss: heap %q: %w; open it with Heap (%v)", "h", oss.ErrCreatedNotOpen, context.DeadlineExceeded), http.StatusServiceUnavailable},
		{fmt.Errorf("oss: drop heap %q: %w", "h", oss.ErrClosed), http.StatusServiceUnavailable},
		{fmt.Errorf("%w: %w", oss.ErrNoQuorum, context.Canceled), http.StatusServiceUnavailable},
		{&oss.UnknownOutcomeError{Err: context.DeadlineExceeded}, http.StatusGatewayTimeout},
		{fmt.Errorf("%w (tried again: %v)", &oss.UnknownOutcomeError{Err: errors.New("no leader in reach")}, oss.ErrNoQuorum), http.StatusGatewayTimeout},
	} {
		rec := httptest.NewRecorder()
		fail(rec, c.err)
		if rec.Code != c.code {
			t.Errorf("%v: %d, want %d", c.err, rec.Code, c.code)
		}
	}
}
