//go:build !unix

package main

// lockForMove does nothing where package oss takes no lock either.
func lockForMove(dir string) (func(), error) { return func() {}, nil }
