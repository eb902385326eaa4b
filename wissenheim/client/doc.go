// Package client is the Wissenheim client without its window: what a
// player's input means, where and in what colour each thing of a room is
// drawn, and how other avatars move smoothly between the snapshots of the
// local replica. It draws nothing and needs no display, so all of it is
// tested with plain go test; the Ebiten program in package main only
// turns keys into an Input and Sprites into pixels.
//
// A frame is made in three steps:
//
//   - a Player (one avatar of this node) takes a Snapshot of its room
//     from the local replica, a View that never waits on the network;
//   - an Interpolator places every avatar between the snapshots it has
//     seen, a little in the past, so avatars that move 20 times a second
//     glide at 60 frames a second;
//   - Layout turns the interpolated room, a Camera and the overlay into
//     Sprites: rectangles, disks and text in pixels and colours.
//
// Input goes the other way: the window hands each frame's keys to the
// Player's Controller, and the Player's sender goroutine turns them into
// at most one interaction (one transaction) per tick, TickRate times a
// second, so that neither the window's Update nor its Draw ever waits for
// a commit.
package client
