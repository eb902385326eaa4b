package admin

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/objectsharing/oss/oss"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The dashboard: a page at /ui that shows the cluster as this node sees it
// (members and their health, each heap's group and leader, commits per
// second, apply lag per replica, hot objects, recent events), kept live by
// a Server-Sent Events stream at /ui/events that the node pushes every
// second. Its assets are embedded (no CDN: it works offline) and it is
// served behind the same authentication and checks as the rest of the
// interface: it is a same-origin page that uses only relative URLs, so
// checkRequest's Origin, Host and Sec-Fetch-Site rules hold for it
// unchanged.

//go:embed ui
var uiFiles embed.FS

const (
	// uiTick is how often the dashboard samples the cluster and pushes a
	// snapshot to its streams.
	uiTick = time.Second
	// uiWindow is how much commit-rate history the charts show.
	uiWindow = 5 * time.Minute
	// uiStreamLifetime bounds one event stream: the browser reconnects
	// (EventSource does on its own), and is authenticated again. A
	// revoked certificate ends its stream before the next snapshot
	// (dashboard.still), not this late.
	uiStreamLifetime = 5 * time.Minute
	// uiDownKept is how long a member that left or failed stays listed as
	// down.
	uiDownKept = 10 * time.Minute
	// uiEvents is how many recent events the page gets.
	uiEvents = 50
	// uiHot is how many hot objects of each heap the page gets.
	uiHot = 5
)

// uiCSP is the page's Content-Security-Policy: its own scripts, styles and
// stream only, and no framing.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// registerUI registers the dashboard's endpoints, read on every heap.
func (a *api) registerUI() {
	d := &dashboard{node: a.node, subs: map[chan []byte]struct{}{}, shutdown: map[*http.Server]chan struct{}{}}
	// A stream outlives the check of its request: its certificate is
	// checked again (revoked, expired) and its read asked again before
	// each snapshot.
	d.still = func(r *http.Request) error {
		if _, err := a.authenticate(r); err != nil {
			return err
		}
		return a.authorize(r, "*", PermRead)
	}
	a.handle("GET /ui", PermRead, 0, func(w http.ResponseWriter, r *http.Request) { serveUIFile(w, "index.html") })
	// /ui/ would resolve the page's relative URLs one level down.
	a.handle("GET /ui/{$}", PermRead, 0, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui", http.StatusFound)
	})
	a.handle("GET /ui/assets/{file}", PermRead, 0, func(w http.ResponseWriter, r *http.Request) { serveUIFile(w, r.PathValue("file")) })
	a.handle("GET /ui/events", PermRead, 0, d.serveEvents)
}

// serveUIFile answers an embedded file of ui/ by its base name.
func serveUIFile(w http.ResponseWriter, name string) {
	if !fs.ValidPath(name) || strings.Contains(name, "/") {
		http.NotFound(w, nil)
		return
	}
	b, err := uiFiles.ReadFile("ui/" + name)
	if err != nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.Write(b)
}

// UISnapshot is what the dashboard's stream sends every second: the
// cluster as this node sees it, with the commit-rate and commit-latency
// history of each heap and the recent events. The page is its only
// intended reader; its form may change.
type UISnapshot struct {
	Node string `json:"node"`
	// Version is this node's build (see buildVersion); the other members'
	// are not known here: membership does not carry them.
	Version string `json:"version"`
	// Damage, if not empty, says this node is damaged, why and what to do
	// (oss.ClusterStatus.Damage); the page shows it above everything.
	Damage string `json:"damage,omitempty"`
	// LogFailed, if not empty, says this node's write-ahead log has
	// stopped and why (oss.ClusterStatus.LogFailed): the node commits
	// nothing until it is restarted or rebuilt. The page shows it above
	// everything, as it does Damage.
	LogFailed string     `json:"logFailed,omitempty"`
	Time      int64      `json:"time"` // Unix milliseconds
	Window    int        `json:"windowSeconds"`
	Members   []UIMember `json:"members"`
	Heaps     []UIHeap   `json:"heaps"`
	Events    []UIEvent  `json:"events"` // newest first
	Totals    UICounters `json:"totals"`
}

// UICounters sums the heaps.
type UICounters struct {
	// Commits is the sum of the heaps' applied indexes: log entries, one a
	// transaction.
	Commits uint64 `json:"commits"`
	// Rate is the commits per second over the last sample.
	Rate float64 `json:"rate"`
}

// UIMember is a member and its health: "up", "unreachable" (a member
// that did not answer the status request) or "down" (one that was seen
// and is gone: it left or failed; or a voter of a heap that is no live
// member, listed as long as it is a voter, with Since 0 and no address
// if it was gone before the dashboard first saw it).
type UIMember struct {
	Name  string   `json:"name"`
	Addr  string   `json:"addr"`
	Role  string   `json:"role"`
	State string   `json:"state"`
	Since int64    `json:"since"` // when it entered State, Unix milliseconds
	Leads []string `json:"leads,omitempty"`
	// Version is the member's build, as it announces it.
	Version string `json:"version,omitempty"`
}

// UIHeap is a heap's group, commit rate, lag and contention.
type UIHeap struct {
	Name     string     `json:"name"`
	Replicas int        `json:"replicas"`
	Leader   string     `json:"leader"`
	Voters   []string   `json:"voters"`
	Learners []string   `json:"learners"`
	Joint    bool       `json:"joint,omitempty"`
	Applied  uint64     `json:"applied"`
	Rate     float64    `json:"rate"`   // commits per second, last sample
	Series   [][2]int64 `json:"series"` // [Unix ms, commits/s × 1000], oldest first
	// Latency is the commit latency of this node's transactions on the
	// heap (the oss_commit_duration_seconds histogram of its replica),
	// per sample interval that had commits: [Unix ms, mean µs, p99 µs],
	// oldest first; p99 is the upper bound of the histogram's bucket that
	// holds it. Empty if this node keeps no replica or committed nothing.
	Latency [][3]int64 `json:"latency"`
	// SnapshotsSent and SnapshotsReceived count the snapshot transfers of
	// this node's replica, if it keeps one.
	SnapshotsSent     uint64      `json:"snapshotsSent"`
	SnapshotsReceived uint64      `json:"snapshotsReceived"`
	Lag               []UIReplica `json:"lag"`
	// Hot are the hottest objects as this node's replica sees them, if it
	// keeps one.
	Hot []oss.HotObject `json:"hot,omitempty"`
	// LocalCommits and LocalConflicts count this node's transactions.
	LocalCommits   uint64 `json:"localCommits"`
	LocalConflicts uint64 `json:"localConflicts"`
	// Stale, if not empty, says why this node's replica may not be
	// current, so that Hot may be old: "no leader" (the replica knows no
	// leader of the heap's group, so nothing says how far behind it is),
	// "leader NODE out of reach" (it has not heard from the leader it
	// knows) or "replica lost" (HeapStatus.Lost).
	Stale string `json:"stale,omitempty"`
}

// UIReplica is one replica's applied index and how far it trails the
// most advanced one.
type UIReplica struct {
	Node    string `json:"node"`
	Applied uint64 `json:"applied"`
	Lag     uint64 `json:"lag"`
}

// UIEvent is something the dashboard saw change between two samples.
type UIEvent struct {
	Time int64  `json:"time"` // Unix milliseconds
	Kind string `json:"kind"` // join, leave, unreachable, reachable, leader, voters, learners, heap, snapshot
	Text string `json:"text"`
}

// dashboard samples the node's view of the cluster while a stream is
// open, keeps what the charts and the event list need, and pushes each
// sample to every stream.
type dashboard struct {
	node *oss.Node
	// still reports whether a stream's request may still read (nil: it
	// may): a stream ends once its certificate is revoked or expires, or
	// its grant is revoked, not up to uiStreamLifetime later.
	still func(*http.Request) error

	mu       sync.Mutex
	subs     map[chan []byte]struct{}
	sampler  *samplerRun // while there are streams
	last     []byte
	shutdown map[*http.Server]chan struct{}

	// Owned by the sampling goroutine.
	started  bool
	members  map[string]*UIMember
	heaps    map[string]oss.HeapStatus
	applied  map[string]uint64
	prevTime time.Time
	series   map[string][][2]int64
	latency  map[string][][3]int64
	metrics  map[string]heapMetrics
	reg      *prometheus.Registry
	events   []UIEvent
}

// subscribe adds a stream, started with the last sample, and starts the
// sampling if it is not running.
func (d *dashboard) subscribe() (chan []byte, func()) {
	ch := make(chan []byte, 1)
	d.mu.Lock()
	for d.sampler != nil && d.sampler.ctx.Err() != nil {
		// Stopped (the last stream ended, or the node closed) and about
		// to exit: one sampler runs at a time.
		r := d.sampler
		d.mu.Unlock()
		<-r.exited
		d.mu.Lock()
		if d.sampler == r {
			d.sampler = nil
		}
	}
	d.subs[ch] = struct{}{}
	if d.last != nil {
		ch <- d.last
	}
	if d.sampler == nil {
		r := &samplerRun{exited: make(chan struct{})}
		r.ctx, r.stop = context.WithCancel(d.node.Context())
		d.sampler = r
		go d.run(r)
	}
	d.mu.Unlock()
	return ch, func() {
		d.mu.Lock()
		delete(d.subs, ch)
		var r *samplerRun
		if len(d.subs) == 0 && d.sampler != nil {
			r = d.sampler
			r.stop()
		}
		d.mu.Unlock()
		if r != nil {
			// The last stream waits for the sampling to stop: the
			// server's Shutdown, which waits for the streams, leaves no
			// sampler behind.
			<-r.exited
			d.mu.Lock()
			if d.sampler == r {
				d.sampler = nil
			}
			d.mu.Unlock()
		}
	}
}

// samplerRun is one run of the sampling goroutine, from the first stream
// to the last.
type samplerRun struct {
	ctx    context.Context // ends at stop or with the node
	stop   context.CancelFunc
	exited chan struct{}
}

// closing returns a channel closed when the http.Server serving r shuts
// down, so that Shutdown does not wait on open streams; nil if r was not
// served by an http.Server.
func (d *dashboard) closing(r *http.Request) chan struct{} {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ch, ok := d.shutdown[srv]
	if !ok {
		ch = make(chan struct{})
		d.shutdown[srv] = ch
		srv.RegisterOnShutdown(func() { close(ch) })
	}
	return ch
}

// serveEvents is the dashboard's Server-Sent Events stream: a snapshot
// event every second.
func (d *dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	if d.node == nil {
		fail(w, refuse(http.StatusServiceUnavailable, "no node to show"))
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	ch, unsubscribe := d.subscribe()
	defer unsubscribe()
	closing := d.closing(r)
	lifetime := time.NewTimer(uiStreamLifetime)
	defer lifetime.Stop()
	write := func(b []byte) bool {
		// The server's WriteTimeout bounds a whole response: a stream
		// moves its deadline on at every write.
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write([]byte("retry: 2000\n: oss dashboard\n\n")) {
		return
	}
	for {
		select {
		case b := <-ch:
			if d.still != nil && d.still(r) != nil {
				return
			}
			var buf bytes.Buffer
			buf.WriteString("event: snapshot\ndata: ")
			buf.Write(b)
			buf.WriteString("\n\n")
			if !write(buf.Bytes()) {
				return
			}
		case <-r.Context().Done():
			return
		case <-d.node.Context().Done():
			return
		case <-closing:
			return
		case <-lifetime.C:
			return
		}
	}
}

// run samples every uiTick until r is stopped (the last stream ends) or
// the node closes.
func (d *dashboard) run(r *samplerRun) {
	defer close(r.exited)
	t := time.NewTicker(uiTick)
	defer t.Stop()
	for r.ctx.Err() == nil {
		b := d.sample(r.ctx, time.Now())
		if r.ctx.Err() != nil {
			return // cut short: not a sample to show
		}
		d.mu.Lock()
		d.last = b
		for ch := range d.subs {
			select { // keep only the newest for a slow stream
			case <-ch:
			default:
			}
			ch <- b
		}
		d.mu.Unlock()
		select {
		case <-t.C:
		case <-r.ctx.Done():
		}
	}
}

// sample gathers the cluster's status and turns it into a snapshot,
// noting what changed since the last one.
func (d *dashboard) sample(ctx context.Context, now time.Time) []byte {
	ctx, cancel := context.WithTimeout(ctx, 900*time.Millisecond)
	defer cancel()
	st := d.node.Status(ctx)
	first := d.start()
	r := &sampling{d: d, st: st, now: now, ms: now.UnixMilli(), first: first, mets: gatherHeapMetrics(d.reg)}
	r.members()
	snap := UISnapshot{Node: st.Node, Version: buildVersion(), Damage: st.Damage, LogFailed: st.LogFailed, Time: r.ms, Window: int(uiWindow / time.Second)}
	r.heaps(&snap)
	for _, m := range d.members {
		snap.Members = append(snap.Members, *m)
	}
	slices.SortFunc(snap.Members, func(x, y UIMember) int { return strings.Compare(x.Name, y.Name) })
	snap.Events = make([]UIEvent, len(d.events))
	for i, e := range d.events {
		snap.Events[len(d.events)-1-i] = e
	}
	if snap.Heaps == nil {
		snap.Heaps = []UIHeap{}
	}
	b, err := json.Marshal(snap)
	if err != nil {
		b = []byte(`{}`)
	}
	return b
}

// start sets the dashboard's state up before its first sample, and
// reports whether this is the first.
func (d *dashboard) start() (first bool) {
	if d.started {
		return false
	}
	d.started = true
	d.members = map[string]*UIMember{}
	d.heaps = map[string]oss.HeapStatus{}
	d.applied = map[string]uint64{}
	d.series = map[string][][2]int64{}
	d.latency = map[string][][3]int64{}
	d.reg = prometheus.NewRegistry()
	if err := d.reg.Register(d.node.Metrics()); err != nil {
		d.reg = nil
	}
	return true
}

// sampling is one sample of the dashboard, in the steps sample takes.
type sampling struct {
	d     *dashboard
	st    oss.ClusterStatus
	now   time.Time
	ms    int64 // now, in Unix milliseconds
	first bool  // the first sample: what it finds is no event
	mets  map[string]heapMetrics
}

// event notes an event, unless this is the first sample. Its text is
// shown as uiShown writes it: the heap and node names it holds may hold
// runes that do not show as themselves.
func (r *sampling) event(kind, format string, args ...any) {
	if r.first {
		return
	}
	d := r.d
	d.events = append(d.events, UIEvent{Time: r.ms, Kind: kind, Text: uiShown(fmt.Sprintf(format, args...))})
	if len(d.events) > uiEvents {
		d.events = d.events[len(d.events)-uiEvents:]
	}
}

// members updates the members' states, noting joins, departures and
// changes of reachability, and forgets those down for long.
func (r *sampling) members() {
	d, st, ms := r.d, r.st, r.ms
	seen := map[string]bool{}
	for _, m := range st.Members {
		seen[m.Name] = true
		state := "up"
		if slices.Contains(st.Unreachable, m.Name) {
			state = "unreachable"
		}
		old, ok := d.members[m.Name]
		switch {
		case !ok:
			r.event("join", "%s joined (%s, %s)", m.Name, m.Role, m.Addr)
		case old.State == "down":
			r.event("join", "%s is back (%s)", m.Name, m.Addr)
		case old.State != state && state == "unreachable":
			r.event("unreachable", "%s does not answer", m.Name)
		case old.State != state:
			r.event("reachable", "%s answers again", m.Name)
		}
		since := ms
		if ok && old.State == state {
			since = old.Since
		}
		d.members[m.Name] = &UIMember{Name: m.Name, Addr: m.Addr, Role: string(m.Role), State: state, Since: since, Leads: m.Leads, Version: m.Version}
	}
	voters := r.downVoters(seen)
	for name, m := range d.members {
		if seen[name] {
			continue
		}
		if m.State != "down" {
			r.event("leave", "%s left or failed", name)
			m.State, m.Since, m.Leads = "down", ms, nil
		} else if !voters[name] && time.Duration(ms-m.Since)*time.Millisecond > uiDownKept {
			delete(d.members, name)
		}
	}
	for name := range voters {
		if _, ok := d.members[name]; !ok {
			// Down before the dashboard first saw it: when it went is not
			// known here (Since 0), nor its address.
			d.members[name] = &UIMember{Name: name, Role: "server", State: "down"}
		}
	}
}

// downVoters returns the voters of the heaps that are not among the live
// members (seen): a voter killed or cut off leaves the member list but
// stays in its groups until it is replaced, and stays listed as down so
// long, also when it went before the dashboard opened.
func (r *sampling) downVoters(seen map[string]bool) map[string]bool {
	down := map[string]bool{}
	for _, hs := range r.st.Heaps {
		for _, v := range hs.Voters {
			if !seen[v] {
				down[v] = true
			}
		}
	}
	return down
}

// heaps adds the heaps to snap, with their totals, noting what changed,
// and forgets the heaps dropped.
func (r *sampling) heaps(snap *UISnapshot) {
	d := r.d
	dt := r.now.Sub(d.prevTime).Seconds()
	present := map[string]bool{}
	var total uint64
	var totalRate float64
	for _, hs := range r.st.Heaps {
		present[hs.Name] = true
		r.heapEvents(hs)
		d.heaps[hs.Name] = hs
		uh, top := r.heap(hs, dt)
		if hs.Name != "oss:catalog" {
			total += top
			totalRate += uh.Rate
		}
		snap.Heaps = append(snap.Heaps, uh)
	}
	for name := range d.heaps {
		if !present[name] {
			r.event("heap", "heap %s dropped", name)
			delete(d.heaps, name)
			delete(d.applied, name)
			delete(d.series, name)
			delete(d.latency, name)
		}
	}
	d.metrics = r.mets
	d.prevTime = r.now
	snap.Totals = UICounters{Commits: total, Rate: totalRate}
}

// heapEvents notes a heap's creation and its changes of replication
// factor, leader, voters and learners since the last sample.
func (r *sampling) heapEvents(hs oss.HeapStatus) {
	old, known := r.d.heaps[hs.Name]
	if !known {
		if hs.Name != "oss:catalog" {
			r.event("heap", "heap %s created (%d replicas)", hs.Name, hs.Replicas)
		}
		return
	}
	if old.Replicas != hs.Replicas {
		r.event("heap", "%s replicas: %d → %d", hs.Name, old.Replicas, hs.Replicas)
	}
	if old.Leader != hs.Leader {
		switch {
		case hs.Leader == "":
			r.event("leader", "%s lost its leader %s", hs.Name, old.Leader)
		case old.Leader == "":
			r.event("leader", "%s elected %s", hs.Name, hs.Leader)
		default:
			r.event("leader", "%s: leader %s → %s", hs.Name, old.Leader, hs.Leader)
		}
	}
	if add, del := diff(old.Voters, hs.Voters); len(hs.Voters) > 0 && len(old.Voters) > 0 && len(add)+len(del) > 0 {
		r.event("voters", "%s voters: %s", hs.Name, changes(add, del))
	}
	if add, del := diff(old.Learners, hs.Learners); len(add)+len(del) > 0 && len(hs.Voters) > 0 {
		r.event("learners", "%s learners: %s", hs.Name, changes(add, del))
	}
}

// heap returns a heap's snapshot, dt seconds after the last sample, and
// the highest index a replica of it applied.
func (r *sampling) heap(hs oss.HeapStatus, dt float64) (UIHeap, uint64) {
	d := r.d
	uh := UIHeap{Name: hs.Name, Replicas: hs.Replicas, Leader: hs.Leader, Voters: nonNil(hs.Voters), Learners: nonNil(hs.Learners),
		Joint: hs.Joint, Applied: hs.Applied, Lag: []UIReplica{}}
	top := hs.Applied
	for _, a := range hs.ReplicaApplied {
		top = max(top, a)
	}
	for node, a := range hs.ReplicaApplied {
		uh.Lag = append(uh.Lag, UIReplica{Node: node, Applied: a, Lag: top - a})
	}
	slices.SortFunc(uh.Lag, func(x, y UIReplica) int { return strings.Compare(x.Node, y.Node) })
	if prev, ok := d.applied[hs.Name]; ok && dt > 0 && top >= prev {
		uh.Rate = float64(top-prev) / dt
		d.series[hs.Name] = inWindow(d.series[hs.Name], [2]int64{r.ms, int64(uh.Rate * 1000)})
	}
	d.applied[hs.Name] = top
	uh.Series = d.series[hs.Name]
	if uh.Series == nil {
		uh.Series = [][2]int64{}
	}
	r.heapMetrics(&uh)
	uh.Latency = d.latency[hs.Name]
	if uh.Latency == nil {
		uh.Latency = [][3]int64{}
	}
	if _, local := hs.ReplicaApplied[r.st.Node]; local && hs.Name != "oss:catalog" {
		r.local(&uh, hs)
	}
	return uh, top
}

// local adds to uh the figures of this node's replica of the heap, read
// without opening it (oss.Node.ReplicaStats): a replica that waits for its
// group to catch up would otherwise hold up the sample, and the heaps
// after it would lose theirs. Stale says why the figures may be old.
func (r *sampling) local(uh *UIHeap, hs oss.HeapStatus) {
	s, hot, ok := r.d.node.ReplicaStats(hs.Name)
	if !ok {
		return
	}
	uh.Hot = hot[:min(len(hot), uiHot)]
	uh.LocalCommits, uh.LocalConflicts = s.Commits, s.Conflicts
	uh.Stale = staleness(s, hs.Lost[r.st.Node] != "")
}

// staleness says why figures read from a replica with stats s may be old
// (UIHeap.Stale, Hot.Stale): "replica lost" if it was, "no leader" if it
// knows no leader of its group, "leader NODE out of reach" if it has not
// heard from the one it knows (Stats.LeaderInReach: a learner whose
// leader died keeps it as its leader); "" otherwise.
func staleness(s oss.Stats, lost bool) string {
	switch {
	case lost:
		return "replica lost"
	case s.Leader == "":
		return "no leader"
	case !s.LeaderInReach:
		return "leader " + s.Leader + " out of reach"
	}
	return ""
}

// heapMetrics adds to uh what the heap's metrics say: its snapshots sent
// and received (noting each as an event) and its commit latency.
func (r *sampling) heapMetrics(uh *UIHeap) {
	d := r.d
	m, ok := r.mets[uh.Name]
	if !ok {
		return
	}
	uh.SnapshotsSent, uh.SnapshotsReceived = m.snapSent, m.snapReceived
	// A replica new here since the last sample (one that joined from a
	// snapshot, say) counts from zero.
	old, ok := d.metrics[uh.Name]
	if !ok && r.first {
		return
	}
	for _, text := range snapshotEvents(uh.Name, r.st.Node, old, m) {
		r.event("snapshot", "%s", text)
	}
	if mean, p99, ok := latencyDelta(old.commit, m.commit); ok {
		d.latency[uh.Name] = inWindow(d.latency[uh.Name], [3]int64{r.ms, mean.Microseconds(), p99.Microseconds()})
	}
}

// inWindow appends p, a point of a series whose first element is its time
// in Unix milliseconds, to s, and drops the points older than uiWindow
// before p.
func inWindow[P [2]int64 | [3]int64](s []P, p P) []P {
	s = append(s, p)
	for len(s) > 0 && time.Duration(p[0]-s[0][0])*time.Millisecond > uiWindow {
		s = s[1:]
	}
	return s
}

// diff returns what b has that a has not, and what a has that b has not.
func diff(a, b []string) (added, removed []string) {
	for _, x := range b {
		if !slices.Contains(a, x) {
			added = append(added, x)
		}
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			removed = append(removed, x)
		}
	}
	return added, removed
}

func changes(added, removed []string) string {
	var parts []string
	for _, x := range added {
		parts = append(parts, "+"+x)
	}
	for _, x := range removed {
		parts = append(parts, "−"+x)
	}
	return strings.Join(parts, " ")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// heapMetrics is what the dashboard reads of a heap's metrics on this
// node's replica.
type heapMetrics struct {
	commit                          histogram
	snapSent, snapSentBytes         uint64
	snapReceived, snapReceivedBytes uint64
}

// histogram is a cumulative Prometheus histogram: count observations,
// their sum, and per bucket the upper bound and the observations at or
// below it.
type histogram struct {
	count   uint64
	sum     float64
	buckets []bucket
}

type bucket struct {
	upper float64
	count uint64
}

// gatherHeapMetrics reads the node's metrics, per heap; nil without a
// registry, or if gathering fails.
func gatherHeapMetrics(reg *prometheus.Registry) map[string]heapMetrics {
	if reg == nil {
		return nil
	}
	fams, err := reg.Gather()
	if err != nil && len(fams) == 0 {
		return nil
	}
	out := map[string]heapMetrics{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			heap := label(m, "heap")
			if heap == "" {
				continue
			}
			hm := out[heap]
			counter := uint64(m.GetCounter().GetValue())
			switch f.GetName() {
			case "oss_commit_duration_seconds":
				h := m.GetHistogram()
				hm.commit = histogram{count: h.GetSampleCount(), sum: h.GetSampleSum()}
				for _, b := range h.GetBucket() {
					hm.commit.buckets = append(hm.commit.buckets, bucket{upper: b.GetUpperBound(), count: b.GetCumulativeCount()})
				}
			case "oss_snapshots_sent_total":
				hm.snapSent = counter
			case "oss_snapshot_sent_bytes_total":
				hm.snapSentBytes = counter
			case "oss_snapshots_received_total":
				hm.snapReceived = counter
			case "oss_snapshot_received_bytes_total":
				hm.snapReceivedBytes = counter
			default:
				continue
			}
			out[heap] = hm
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// latencyDelta returns the mean and the 99th percentile of the
// observations cur has that prev had not, false if there are none. The
// percentile is the upper bound of the bucket that holds it, the largest
// finite bound if it is beyond them all.
func latencyDelta(prev, cur histogram) (mean, p99 time.Duration, ok bool) {
	if cur.count <= prev.count {
		return 0, 0, false
	}
	n := cur.count - prev.count
	seconds := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	mean = seconds(max(cur.sum-prev.sum, 0) / float64(n))
	prevAt := map[float64]uint64{}
	for _, b := range prev.buckets {
		prevAt[b.upper] = b.count
	}
	want := uint64(math.Ceil(0.99 * float64(n)))
	finite := 0.0
	for _, b := range cur.buckets {
		if math.IsInf(b.upper, 1) {
			break
		}
		finite = b.upper
		if b.count-min(prevAt[b.upper], b.count) >= want {
			return mean, seconds(b.upper), true
		}
	}
	return mean, max(seconds(finite), mean), true
}

// snapshotEvents describes the snapshot transfers of a heap's replica on
// node between two readings of its metrics.
func snapshotEvents(heap, node string, prev, cur heapMetrics) []string {
	var out []string
	if cur.snapReceived > prev.snapReceived {
		out = append(out, fmt.Sprintf("%s: %s received %s from the leader (%s)", heap, node,
			plural(cur.snapReceived-prev.snapReceived, "snapshot"), bytesText(cur.snapReceivedBytes-min(prev.snapReceivedBytes, cur.snapReceivedBytes))))
	}
	if n := cur.snapSent - min(prev.snapSent, cur.snapSent); n > 0 {
		to := "a peer"
		if n > 1 {
			to = "peers"
		}
		out = append(out, fmt.Sprintf("%s: %s sent %s to %s (%s)", heap, node, plural(n, "snapshot"), to, bytesText(cur.snapSentBytes-min(prev.snapSentBytes, cur.snapSentBytes))))
	}
	return out
}

func plural(n uint64, what string) string {
	if n == 1 {
		return "a " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// bytesText is a byte count in B, kB, MB or GB (powers of 1000).
func bytesText(n uint64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n)/unit, 0
	for f >= unit && i < 2 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %cB", f, "kMG"[i])
}

// uiShown returns s with each rune that does not show as itself (those
// strconv.IsPrint rejects: control, bidirectional formatting, zero-width
// and other format characters, spaces but U+0020) written \uXXXX, or
// \UXXXXXXXX beyond U+FFFF, and each byte that is not UTF-8 \xHH: the
// page's shown (ui/app.js) writes names alike. An event's text named a
// heap as it was, and a heap made before such names were refused, with
// U+202E in its name, showed the rest of its line reversed.
func uiShown(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case strconv.IsPrint(r):
			b.WriteString(s[i : i+size])
		case r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

// buildVersion is this binary's version (oss.Version).
func buildVersion() string { return oss.Version() }
