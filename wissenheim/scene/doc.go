// Package scene is Wissenheim's world as objects in an OSS heap, without
// graphics: rooms, avatars, props and chat, linked by oss.Ref, changed
// only by transactions that keep the world's rules, and read by renderers
// from local snapshots.
//
// # Usage
//
//	h, _ := node.CreateHeapIfNotExists(ctx, "wissenheim", nil)
//	w, _ := scene.Create(ctx, h, scene.DemoSpec(100)) // or scene.Open(ctx, h, "wissenheim")
//	go w.Run(ctx)                                     // clock, leases, removal of dead avatars
//	me, err := w.Join(ctx, "ada", nil)                // scene.ErrNameTaken if "ada" is alive
//	err = me.Move(ctx, scene.Vec{X: 0.1})             // scene.ErrBlocked: refused, nothing written
//	err = me.PickUp(ctx, ballID)                      // scene.ErrHeld if someone was quicker
//	err = me.Kick(ctx, ballID, scene.Vec{X: 5})
//	err = me.Say(ctx, "hello")
//
//	// Once a frame, in the renderer: a local View, no network.
//	snap, err := w.Snapshot(ctx, "hall")
//	for _, a := range snap.Avatars { /* draw a.Pos, a.Heading, a.Color, a.Said */ }
//	for _, p := range snap.Props { /* draw p.Pos; p.Rolling balls move every tick */ }
//	for _, m := range snap.Chat { /* m.From, m.Text, in log order */ }
//
// Use World.Read instead of Snapshot to read a room inside a View of the
// caller's, together with other reads; World.Avatar and World.Prop read
// single objects (what a bot needs each step).
//
// # Objects
//
// A world is a named root ("wissenheim/<name>") bound to a world object
// that lists the rooms and the clock. A room is written once, when the
// world is created: its size, walls, doors, props, 16 roster shards
// listing its avatars and 8 chat shards. Everything that changes lives
// in objects of its own:
//
//   - an avatar: name, colour, room, position, heading, the prop it holds,
//     what it last said, its session and its lease;
//   - an occupancy cell of a room (CellSize square, an ID derived from the
//     room's ID and the cell's coordinates): it exists while an avatar
//     covers it, and names that avatar;
//   - a prop: a ball, a box, a lamp or a door, where it lies, who holds
//     it, whether it is on (lit, open), and a ball's last kick;
//   - a roster shard, a chat shard, the clock;
//   - a named root per avatar name ("wissenheim/<world>/avatar/<name>").
//
// # Invariants
//
// Every transaction below checks the rules against what it reads, and the
// heap commits it only if what it read is unchanged, so the rules hold in
// every snapshot, on every node, whatever the load and the faults:
//
//   - No two avatars overlap, and none stands outside its room, in a wall
//     or in a closed door. An avatar covers every cell its disk overlaps,
//     and no cell is covered twice: a move reads the cells it enters and
//     refuses if another avatar holds one (ErrBlocked). Disks inside
//     disjoint sets of cells cannot overlap. A step is at most MaxStep,
//     the avatar's diameter, so no avatar walks through another or through
//     a wall.
//   - A prop is held by at most one avatar, and holder and prop agree: a
//     pick-up, a drop, a give and a kick write both sides in one
//     transaction.
//   - Chat is in the same order everywhere: each message's index is the
//     log index of its commit, and messages are ordered by it.
//   - Names are unique among live avatars: the name's root is read by
//     every Join of that name.
//
// World.Verify checks all of them in a View; the tests call it on every
// snapshot they take.
//
// # Damage
//
// The admin interface can write anything into any object, so any object
// of a world may hold garbage. The scene never trusts what it reads: a
// Snapshot leaves out an object that does not decode, or breaks the
// rules above, and names it in Snapshot.Damaged; an interaction that
// needs it fails with ErrDamaged; and World.Run rebuilds what the other
// objects say (roster shards, props' holders, cells, the clock) and
// empties damaged chat shards. A damaged world object or room cannot be
// rebuilt: Open refuses it.
//
// # Contention
//
// Nothing that every move touches is ever written: rooms are immutable,
// and an avatar's move writes the avatar and the cells it enters and
// leaves, nothing else. Two moves conflict only when they write the same
// avatar, or race for the same cell. A move that stays within its cells
// (most of them, at 20 Hz) reads and writes its own avatar alone. Joins
// and leaves contend on one of 16 roster shards, messages on one of 8
// chat shards (by avatar), and nothing contends on the room.
//
// # Presence
//
// An avatar has a lease: a tick of the world clock after which any node
// may remove it. Every interaction renews it (it writes the avatar
// anyway), and World.Run renews the idle avatars joined through its
// World, so a live client's avatars never expire. A client that crashes
// stops renewing; once its lease has run out (Spec.Lease, 10 s by
// default), the Run of any node removes the avatar, frees its cells and
// name, and drops what it held where it stood. A client that restarts
// takes its avatar back with World.Resume (its ID and session), and a
// second client that joins under a live name is refused with
// ErrNameTaken, never merged with the first.
//
// # The clock and rolling balls
//
// The world clock is an object whose tick World.Run advances about
// TickRate (20) times a second; any number of nodes may run it. A kick
// writes the ball once: where it was, its velocity, and the tick. Where
// the ball is at a later tick is a pure function of that, the room's
// walls and the tick (integer physics: a step per tick, friction, bounces
// off walls and the room's bounds), so every client that reads the same
// log index draws the ball at the same place, and a rolling ball costs no
// writes. A renderer that draws faster than 20 Hz extrapolates by
// PropState.Vel.
package scene
