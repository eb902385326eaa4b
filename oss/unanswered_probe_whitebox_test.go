package oss

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// unansweredInTime reports whether a join's answer (an error, or a
// joinRelay's "again ..." text) is the one for a ping or call that went
// unanswered in time: the catalog's leader pings the node membership
// lists live, and the process that joins, within liveProbeTimeout
// (whoAnswers), a start asks each member within a second (askJoin). On
// a starved machine (the CI's 2 cores shared with builds, a test under
// 0.6 of a core) a live node's answer took longer, and the answer was
// "does not answer there ... try again": not final, as it must be when
// nothing is known, and what a second process's start is told until the
// live node answers in time. A refusal for good is never such an answer.
func unansweredInTime(answer string) bool {
	if strings.HasPrefix(answer, "final ") || strings.Contains(answer, ErrJoinRefused.Error()) {
		return false
	}
	return strings.Contains(answer, "does not answer") || strings.Contains(answer, "no member answered")
}

// errText is err's text, "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// admitJoinAnswered is leader.admitJoin of r from name, asked again
// while its answer is that a ping went unanswered in time.
func admitJoinAnswered(t *testing.T, ctx context.Context, leader *Node, name string, r *callRequest) (final bool, err error) {
	t.Helper()
	await.Until(t, "an answer to a join of "+name+" that is not a ping unanswered in time", func() bool {
		final, err = leader.admitJoin(ctx, leader.catalog.Load(), name, r)
		if !final && unansweredInTime(errText(err)) {
			t.Logf("join of %s: %v; asked again", name, err)
			return false
		}
		return true
	})
	return final, err
}

// startAnswered is Start(ctx, cfg()), started again while its error is
// that a ping or call went unanswered in time.
func startAnswered(t *testing.T, ctx context.Context, cfg func() *Config) (*Node, error) {
	t.Helper()
	for {
		n, err := Start(ctx, cfg())
		if err == nil || errors.Is(err, ErrJoinRefused) || !unansweredInTime(err.Error()) || ctx.Err() != nil {
			return n, err
		}
		t.Logf("start of %s: %v; again", cfg().Name, err)
	}
}

// relayJoinAnswered is relayJoin, asked again while the relay's answer
// is that a ping went unanswered in time.
func relayJoinAnswered(t *testing.T, ctx context.Context, q, relay *transport.QUIC, id uint64, addr string) string {
	t.Helper()
	var got string
	await.Until(t, "an answer to a relayed join that is not a ping unanswered in time", func() bool {
		got = relayJoin(t, ctx, q, relay, id, addr)
		if unansweredInTime(got) {
			t.Logf("relayed join: %s; asked again", got)
			return false
		}
		return true
	})
	return got
}
