package scene

import "errors"

// Errors of the scene. Compare with errors.Is: they are returned wrapped,
// with details. A refused interaction wrote nothing.
var (
	// ErrNoWorld is returned by Open for a world that does not exist.
	ErrNoWorld = errors.New("scene: no such world")
	// ErrNoRoom is returned for a room the world does not have.
	ErrNoRoom = errors.New("scene: no such room")
	// ErrNameTaken is returned by Join when a live avatar has the name:
	// a second client with the same name is refused, never merged with
	// the first. The name is free again once that avatar leaves or its
	// lease runs out.
	ErrNameTaken = errors.New("scene: name taken")
	// ErrGone is returned by every call on an Avatar that no longer
	// exists: it left, or its lease ran out and a node removed it.
	ErrGone = errors.New("scene: avatar is gone")
	// ErrBlocked is returned for a move onto another avatar, into a wall,
	// a closed door or out of the room, for a door that cannot close on
	// an avatar, and by Join when the room has no free spot.
	ErrBlocked = errors.New("scene: blocked")
	// ErrTooFar is returned for a step longer than MaxStep, and for a
	// prop or an avatar out of Reach.
	ErrTooFar = errors.New("scene: too far")
	// ErrHeld is returned for a prop that another avatar holds.
	ErrHeld = errors.New("scene: held by another avatar")
	// ErrHandsFull is returned when an avatar that already holds a prop
	// is to take another.
	ErrHandsFull = errors.New("scene: hands full")
	// ErrEmptyHands is returned by Drop and Give when the avatar holds
	// nothing.
	ErrEmptyHands = errors.New("scene: holds nothing")
	// ErrCannot is returned for an interaction the prop does not have:
	// picking up a lamp, kicking a box, toggling a ball.
	ErrCannot = errors.New("scene: the prop cannot do that")
	// ErrInvalid is returned for an argument no call accepts: an empty
	// or overlong name or message, a spec that does not fit together, a
	// place that is not a number, the ID of an object of another kind
	// where a prop or an avatar is named.
	ErrInvalid = errors.New("scene: invalid argument")
	// ErrDamaged is returned for an object of the world that holds
	// something the scene cannot use (written by other means than this
	// package: `ossd put`, say), as a *Damage that names it and its kind:
	// by Open for a damaged world or room, and by an interaction that
	// needs a damaged clock, roster shard, chat shard, prop or avatar.
	// World.Run repairs what it can (see Snapshot.Damaged).
	ErrDamaged = errors.New("scene: damaged object")
)
