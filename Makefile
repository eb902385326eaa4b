# Targets in the manner of etcd-io/raft's and memberlist's Makefiles.
GO ?= go

.PHONY: test test-short test-long harness-long testrace bench fmt vet tidy verify demo

# The CI command: vet, then every test under the race detector.
test:
	@$(GO) version
	$(GO) vet ./...
	$(GO) test -race -timeout 15m ./...

test-short:
	$(GO) test -short ./...

# Long seeded simulations, crash seeds and minutes of every nemesis; the
# race detector is left to the CI run.
test-long:
	OSS_LONG=1 $(GO) test -timeout 120m ./...

# The reliability harness alone, long, with its summaries.
harness-long:
	OSS_LONG=1 $(GO) test -timeout 90m -v -run 'Simulat|Harness' ./internal/sim ./oss ./oss/ossdtest > harness-long.log 2>&1; \
	status=$$?; grep -E '^(---|ok|FAIL|panic)|simulation:|harness:|seed [0-9]+:' harness-long.log; exit $$status

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./oss/ | tee bench-oss.txt

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

tidy:
	$(GO) mod tidy
	git diff --exit-code go.mod go.sum

verify: fmt tidy test

demo:
	$(GO) run ./demo
