# Targets in the manner of etcd-io/raft's and memberlist's Makefiles.
GO ?= go

.PHONY: test test-long harness-long demo x11-deps browser-deps wissenheim-frames wissenheim-frames-apart wissenheim-screenshot dashboard-screenshot bench-peer

# The CI command: vet, then every test under the race detector. The
# Wissenheim window tests run the client under Xvfb, so the X server and
# the libraries Ebiten loads come first, and the admin interface's browser
# test needs Chromium. The timeout is a package's: oss takes over 15
# minutes under the race detector at load 15 to 25 on the 2 cores (see
# docs/design.md, Testing); a test's own waits end in 5 minutes, naming
# what they awaited.
test: x11-deps browser-deps
	@$(GO) version
	$(GO) vet ./...
	$(GO) test -race -timeout 45m ./...

# Xvfb and the X11 and OpenGL libraries Ebiten loads, installed with
# apt-get (as root) when one is missing: see .ci/x11-deps.
x11-deps:
	@bash .ci/x11-deps

# Chromium, for oss/admin's browser test: see .ci/browser-deps.
browser-deps:
	@bash .ci/browser-deps

demo:
	$(GO) run ./demo

# Every test with OSS_LONG set: the long seeded simulations, crash and
# power-loss seeds, minutes of every nemesis, the long Wissenheim run. The
# race detector is left to the CI run.
test-long:
	OSS_LONG=1 $(GO) test -timeout 120m ./...

# The reliability harness alone, long, with its summaries: the simulation,
# every nemesis of oss (in-memory, QUIC and the outcome probes) and of the
# ossd processes (SIGKILL, SIGSTOP, partitions, removals).
harness-long:
	OSS_LONG=1 $(GO) test -timeout 90m -v -run 'Simulat|Harness|OutcomesProbe|TestOssd(Harness|Partitions|Removals)' ./internal/testkit/sim ./oss ./oss/ossdtest > harness-long.log 2>&1; \
	status=$$?; grep -E '^(---|ok|FAIL|panic)|simulation:|harness:|seed [0-9]+' harness-long.log; exit $$status

# Frame times of a window drawing a thousand avatars (the whole room in
# view), under Xvfb with Mesa's software renderer, with as many empty
# frames in between to show what the renderer costs on its own: the window
# in the same process as the node and the bots (wissenheim-frames), or on
# its own, joined to a headless process running them (-apart).
wissenheim-frames: x11-deps
	xvfb-run -a -s "-screen 0 1280x1024x24" $(GO) run ./wissenheim --nodes 1 --bots 1000 --bot-rate 2 --fit --size 960x540 --frames 1200 --compare-empty

wissenheim-frames-apart: x11-deps
	GO=$(GO) bash .ci/wissenheim-frames-apart 1000 1200

# The README's screenshot.
wissenheim-screenshot: x11-deps
	xvfb-run -a $(GO) run ./wissenheim --seed 3 --screenshot docs/wissenheim.png --shot-after 6s

# The README's screenshot of the admin interface's dashboard (/ui): the
# browser test of a 4-node cluster under load, in headless Chromium, after
# a minute of load, with a voter of the heap killed and the fourth node in
# its place.
dashboard-screenshot: browser-deps
	$(GO) test ./oss/admin -run '^TestDashboardBrowser$$' -count 1 -v -dashboard.screenshot $(CURDIR)/docs/dashboard.png

# OSS side by side with embedded etcd 3.7.3 (bench/, a module of its own so
# etcd's dependencies stay out of this one): README, "Against etcd".
# make bench-peer ARGS="-rounds 4 -duration 10s"
bench-peer:
	cd bench && GOFLAGS=-mod=mod $(GO) run . $(ARGS)
