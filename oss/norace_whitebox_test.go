//go:build !race

package oss

const raceEnabled = false
