// Package deploy holds no code: its tests check the deployment files next
// to it, systemd/ossd@.service (with systemd-analyze verify where it is
// installed) and compose/compose.yaml (parsed), against the flags of the
// ossd they would run, so a renamed flag breaks the tests, not a
// deployment.
package deploy
