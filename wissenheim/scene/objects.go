package scene

import (
	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// The objects of a world, as stored in the heap. They are unexported:
// a renderer reads them through Snapshot, and every change goes through
// the transactions of Avatar and World, which keep the invariants (see
// the package doc). Integer CBOR keys keep the records of 20 Hz moves
// small.

// worldObj is the world's entry point, bound to the named root
// rootPrefix+name. It is written once, at creation.
type worldObj struct {
	Name  string             `cbor:"1,keyasint"`
	Rooms []oss.Ref[roomObj] `cbor:"2,keyasint"`
	Clock oss.Ref[clockObj]  `cbor:"3,keyasint"`
	Lease uint64             `cbor:"4,keyasint"` // ticks an avatar lives without a write
}

// clockObj is the world's logical clock: Tick advances about TickRate
// times a second (World.Run), and Wall is the Unix time in nanoseconds of
// the last advance on the clock of the node that made it, for the record:
// no process compares it with its own clock (see World.advance).
type clockObj struct {
	Tick uint64 `cbor:"1,keyasint"`
	Wall int64  `cbor:"2,keyasint"`
}

// roomObj is a room. It is written once, at creation, and never again:
// what changes in a room lives in objects of its own (avatars, props,
// cells, rosters, chat shards), so that no transaction rewrites the room.
type roomObj struct {
	Name    string               `cbor:"1,keyasint"`
	Size    Vec                  `cbor:"2,keyasint"`
	Walls   []Rect               `cbor:"3,keyasint"`
	Doors   []doorSpec           `cbor:"4,keyasint"`
	Props   []oss.Ref[propObj]   `cbor:"5,keyasint"`
	Rosters []oss.Ref[rosterObj] `cbor:"6,keyasint"`
	Chat    []oss.Ref[chatShard] `cbor:"7,keyasint"`
}

// doorSpec places a door: a rectangle that blocks avatars while the door
// prop is closed.
type doorSpec struct {
	Rect Rect             `cbor:"1,keyasint"`
	Prop oss.Ref[propObj] `cbor:"2,keyasint"`
}

// rosterObj is one shard of a room's list of avatars; an avatar is listed
// in the shard its ID hashes to, so joins and leaves contend per shard.
type rosterObj struct {
	Avatars []oss.Ref[avatarObj] `cbor:"1,keyasint"`
}

// avatarObj is an avatar. Its position is written by its own moves only;
// its Lease is the clock tick after which any node may remove it.
type avatarObj struct {
	Name    string           `cbor:"1,keyasint"`
	Color   uint32           `cbor:"2,keyasint"` // RGBA, 8 bits each, red first
	Room    oss.Ref[roomObj] `cbor:"3,keyasint"`
	Pos     Vec              `cbor:"4,keyasint"`
	Heading float64          `cbor:"5,keyasint"`
	Holding oss.Ref[propObj] `cbor:"6,keyasint"`
	Said    string           `cbor:"7,keyasint"`
	Session uuid.UUID        `cbor:"8,keyasint"`
	Lease   uint64           `cbor:"9,keyasint"`
	Moves   uint64           `cbor:"10,keyasint"`
}

// cellObj claims one occupancy cell of a room for an avatar. A free cell
// is one whose object does not exist.
type cellObj struct {
	Avatar oss.Ref[avatarObj] `cbor:"1,keyasint"`
	Room   oss.Ref[roomObj]   `cbor:"2,keyasint"`
}

// propObj is a thing in a room. Pos is where it lies when nobody holds
// it; a ball that was kicked is at Roll's position for the current tick.
type propObj struct {
	Kind   Kind               `cbor:"1,keyasint"`
	Name   string             `cbor:"2,keyasint"`
	Room   oss.Ref[roomObj]   `cbor:"3,keyasint"`
	Pos    Vec                `cbor:"4,keyasint"`
	Holder oss.Ref[avatarObj] `cbor:"5,keyasint"`
	On     bool               `cbor:"6,keyasint"` // a lamp lit, a door open
	Roll   *roll              `cbor:"7,keyasint"`
}

// chatShard is one shard of a room's chat: the latest ChatKeep messages
// said by the avatars whose IDs hash to it, oldest first.
type chatShard struct {
	Msgs []chatMsg `cbor:"1,keyasint"`
}

// chatMsg is a message. Index is the log index of the commit that
// appended it, filled in by the next append to the shard; the newest
// message of a shard has Index 0, and its index is the shard's version.
type chatMsg struct {
	Index  uint64    `cbor:"1,keyasint"`
	Avatar uuid.UUID `cbor:"2,keyasint"`
	From   string    `cbor:"3,keyasint"`
	Text   string    `cbor:"4,keyasint"`
}

// Kind says what a prop is.
type Kind uint8

// The kinds of props.
const (
	// Ball can be picked up, carried, dropped, given and kicked.
	Ball Kind = iota + 1
	// Box can be picked up, carried, dropped and given.
	Box
	// Lamp stays where it is; Toggle switches it on and off.
	Lamp
	// Door stays where it is; Toggle opens and closes it, and a closed
	// door blocks avatars as a wall does (a ball rolls under it).
	Door
)

func (k Kind) String() string {
	switch k {
	case Ball:
		return "ball"
	case Box:
		return "box"
	case Lamp:
		return "lamp"
	case Door:
		return "door"
	}
	return "kind?"
}

func (k Kind) portable() bool { return k == Ball || k == Box }
