package client

import (
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// tickPeriod is the time between two moves of an avatar that walks.
const tickPeriod = time.Second / scene.TickRate

// Delays of the Interpolator: how far in the past it draws avatars and
// rolling balls. Others' moves reach the local replica about once a tick,
// a little early or late, so they are drawn two ticks late, between two
// positions already known; the player's own avatar, whose moves commit
// here, one tick late.
const (
	DefaultDelay = 2 * tickPeriod
	DefaultOwn   = tickPeriod
)

// Interpolator turns the snapshots a renderer takes (as often as it
// likes, but a room changes only when a commit arrives) into frames in
// which avatars and rolling balls move smoothly: each is drawn where it
// was Delay ago, between the two positions seen around that moment. It
// never extrapolates: past the newest position seen, a thing stands
// still. An Interpolator is used by one goroutine.
type Interpolator struct {
	// Delay is how late others are drawn, Own how late the avatar Me.
	// Zero means DefaultDelay and DefaultOwn.
	Delay, Own time.Duration
	// Me is the player's avatar.
	Me uuid.UUID

	last   *scene.Snapshot
	tracks map[uuid.UUID]*track
	avs    []*track // tracks of last.Avatars, in order
	props  []*track // tracks of last.Props, in order
	out    scene.Snapshot
}

// samples a track keeps; at most a few are ever needed, since a track is
// read only Delay in the past.
const keep = 8

type sample struct {
	at      time.Time
	pos     scene.Vec
	heading float64
}

type track struct {
	s    [keep]sample // s[0] oldest … s[n-1] newest
	n    int
	seen uint64 // snapshot index at which the thing was last present
}

func (t *track) add(at time.Time, pos scene.Vec, heading float64) {
	if t.n > 0 {
		last := t.s[t.n-1]
		if last.pos == pos && last.heading == heading {
			return
		}
		// A thing that stood still and starts to move takes one tick to
		// get from where it stood to its first new position, not the
		// whole time it stood.
		if start := at.Add(-tickPeriod); last.at.Before(start) {
			t.push(sample{start, last.pos, last.heading})
		}
	}
	t.push(sample{at, pos, heading})
}

func (t *track) push(s sample) {
	if t.n == keep {
		copy(t.s[:], t.s[1:])
		t.n--
	}
	t.s[t.n] = s
	t.n++
}

// at returns the position at time r: between the samples around r, the
// oldest before them all and the newest after.
func (t *track) at(r time.Time) (scene.Vec, float64) {
	if t.n == 0 {
		return scene.Vec{}, 0
	}
	if !r.After(t.s[0].at) {
		return t.s[0].pos, t.s[0].heading
	}
	for i := 1; i < t.n; i++ {
		b := t.s[i]
		if r.Before(b.at) {
			a := t.s[i-1]
			f := float64(r.Sub(a.at)) / float64(b.at.Sub(a.at))
			return a.pos.Add(b.pos.Sub(a.pos).Scale(f)), b.heading
		}
	}
	last := t.s[t.n-1]
	return last.pos, last.heading
}

// Observe records a snapshot taken at now. A snapshot of an index already
// observed changes nothing, so a renderer may take and observe one every
// frame.
func (ip *Interpolator) Observe(s *scene.Snapshot, now time.Time) {
	if s == nil || (ip.last != nil && s.Index == ip.last.Index && s.Room.ID == ip.last.Room.ID) {
		return
	}
	if ip.tracks == nil || (ip.last != nil && s.Room.ID != ip.last.Room.ID) {
		ip.tracks = map[uuid.UUID]*track{}
	}
	get := func(id uuid.UUID) *track {
		t := ip.tracks[id]
		if t == nil {
			t = &track{}
			ip.tracks[id] = t
		}
		t.seen = s.Index
		return t
	}
	ip.avs = ip.avs[:0]
	for i := range s.Avatars {
		a := &s.Avatars[i]
		t := get(a.ID)
		t.add(now, a.Pos, a.Heading)
		ip.avs = append(ip.avs, t)
	}
	ip.props = ip.props[:0]
	for i := range s.Props {
		p := &s.Props[i]
		var t *track
		if p.Kind == scene.Ball && p.Holder == uuid.Nil {
			t = get(p.ID)
			t.add(now, p.Pos, 0)
		} else {
			delete(ip.tracks, p.ID) // held, or never moves: drawn where the snapshot says
		}
		ip.props = append(ip.props, t)
	}
	for id, t := range ip.tracks {
		if t.seen != s.Index {
			delete(ip.tracks, id) // left the room
		}
	}
	ip.last = s
}

// Frame returns the latest observed snapshot with every avatar and
// rolling ball placed where it was at now minus the delay, or nil if
// nothing was observed yet. The snapshot returned is reused by the next
// call: it is to be drawn, not kept.
func (ip *Interpolator) Frame(now time.Time) *scene.Snapshot {
	if ip.last == nil {
		return nil
	}
	delay, own := ip.Delay, ip.Own
	if delay == 0 {
		delay = DefaultDelay
	}
	if own == 0 {
		own = DefaultOwn
	}
	out := &ip.out
	avs, props := out.Avatars[:0], out.Props[:0]
	*out = *ip.last
	out.Avatars = append(avs, ip.last.Avatars...)
	out.Props = append(props, ip.last.Props...)
	for i := range out.Avatars {
		a := &out.Avatars[i]
		d := delay
		if a.ID == ip.Me {
			d = own
		}
		a.Pos, a.Heading = ip.avs[i].at(now.Add(-d))
	}
	for i := range out.Props {
		if t := ip.props[i]; t != nil {
			out.Props[i].Pos, _ = t.at(now.Add(-delay))
		}
	}
	return out
}
