package admin

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The defaults of Options.RateLimit, RateBurst and RateIdentities. A
// request takes one token, a status statusCost. 5,000 a second is five
// times what the demo's four transfer loops asked of one node at load 15
// (three requests a transfer, conflicts included), room for a quiet
// machine where they ask more, and many times what the CLI, a debug
// bundle or a scraper asks; docs/design.md, "Admin interface security",
// has the figures.
const (
	DefaultRateLimit      = 5000
	DefaultRateBurst      = 10000
	DefaultRateIdentities = 1024
)

// statusCost is the tokens a GET /v1/status takes: it answers the
// members' replicas (statusCache shares one gathering among the requests
// that come together) in an answer that grows with the heaps, so an
// identity asks for at most a tenth as many statuses as other requests.
const statusCost = 10

// refuseHold is how long a request refused for its identity's rate is
// held before its 429 is sent. An HTTP/1.1 connection carries one
// request at a time, so a client that floods gets at most one refusal
// per connection and hold: without it a flood answered with quick 429s
// took the node's processors as the requests it stood for did (a writer
// committed as slowly beside 4,000 refusals a second as beside 2,700
// statuses served). The connections are capped (MaxConns), so the
// refusals are too.
const refuseHold = time.Second

// rateLimitedState is the stateHeader of a 429: the node refused the
// request before doing any of it.
const rateLimitedState = "rate-limited"

// limiter keeps a token bucket per identity: each holds at most burst
// tokens and gains rate a second; a request takes one, and one that
// finds none is refused. It keeps at most max buckets: a full bucket
// (idle long enough to have refilled) says nothing a new one would not,
// so it is dropped first; if none is full, the one used longest ago.
type limiter struct {
	rate  float64 // tokens a second; +Inf: no limit
	burst float64
	max   int
	now   func() time.Time
	log   *slog.Logger
	// refused counts the requests refused (oss_admin_rate_limited_total).
	refused prometheus.Counter

	mu      sync.Mutex // protects following fields
	buckets map[Identity]*tokenBucket
}

type tokenBucket struct {
	tokens float64
	at     time.Time // when tokens was counted
	warned time.Time // when a refusal of the identity was last logged
}

// warnEvery is how often the log says an identity is being refused.
const warnEvery = time.Minute

func newLimiter(o *Options, node string) *limiter {
	rate := o.RateLimit
	if rate < 0 {
		rate = math.Inf(1)
	}
	return &limiter{rate: rate, burst: float64(o.RateBurst), max: o.RateIdentities, now: o.Now, log: o.Logger,
		buckets: map[Identity]*tokenBucket{},
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "oss_admin_rate_limited_total",
			Help:        "Requests to the admin interface refused with 429 because their identity was over its rate limit.",
			ConstLabels: prometheus.Labels{"node": node}})}
}

// take takes cost tokens of id's bucket and reports whether there were
// as many; if not, wait is how long until there are.
func (l *limiter) take(id Identity, cost float64) (ok bool, wait time.Duration) {
	if math.IsInf(l.rate, 1) {
		return true, 0
	}
	cost = min(cost, l.burst) // a bucket never holds more
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[id]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &tokenBucket{tokens: l.burst, at: now}
		l.buckets[id] = b
	}
	l.refill(b, now)
	if b.tokens >= cost {
		b.tokens -= cost
		return true, 0
	}
	l.refused.Inc()
	if now.Sub(b.warned) >= warnEvery {
		b.warned = now
		l.log.Warn("admin: an identity is over its request rate limit: its requests are refused with 429 until it slows down",
			"client", id.Name, "role", string(id.Role), "rate", l.rate, "burst", l.burst)
	}
	return false, time.Duration((cost - b.tokens) / l.rate * float64(time.Second))
}

// refill adds the tokens b gained since it was last counted.
func (l *limiter) refill(b *tokenBucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.at = now
	}
}

// evict drops every full bucket, or if none is full the one counted
// longest ago, to make room for another.
func (l *limiter) evict(now time.Time) {
	var oldest Identity
	var oldestAt time.Time
	dropped := false
	for id, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, id)
			dropped = true
			continue
		}
		if oldestAt.IsZero() || b.at.Before(oldestAt) {
			oldest, oldestAt = id, b.at
		}
	}
	if !dropped {
		delete(l.buckets, oldest)
	}
}

// size is the number of buckets kept.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// admit takes the request's tokens (statusCost for a status, else one)
// of its identity's bucket and reports whether it may go on; if not, it
// has held the request for a.refuseHold (or until its client went away)
// and answered 429 Too Many Requests with Retry-After (whole seconds, at
// least 1) and the state rate-limited (stateHeader): nothing of the
// request was done, so a client may send it again, here after the delay
// or to another node.
func (a *api) admit(w http.ResponseWriter, r *http.Request, id Identity) bool {
	cost := 1.0
	if r.URL.Path == "/v1/status" {
		cost = statusCost
	}
	ok, wait := a.limit.take(id, cost)
	if ok {
		return true
	}
	if a.refuseHold > 0 {
		t := time.NewTimer(a.refuseHold)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	secs := int(math.Ceil(wait.Seconds()))
	secs = max(1, secs)
	who := fmt.Sprintf("the %s certificate %q", id.Role, id.Name)
	if a.opts.Insecure {
		who = "the insecure interface's one identity (every local client)"
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set(stateHeader, rateLimitedState)
	reply(w, http.StatusTooManyRequests, map[string]string{"error": fmt.Sprintf(
		"%s is over its limit of %g requests a second (a burst of %g) on this node's admin interface, so nothing of this request was done: retry after %ds (the limit is ossd run's --http-rate and --http-burst)",
		who, a.limit.rate, a.limit.burst, secs)})
	return false
}
