//go:build !race

package bots_test

const raceOn = false
