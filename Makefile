# Osservatorio: every target CI runs is here; `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

BIN            := $(CURDIR)/bin
TEMPORAL_VER   := v1.5.1
MINIO_VER      := v0.0.0-20260212201848-7aac2a2c5b7c
STATICCHECK    := honnef.co/go/tools/cmd/staticcheck@v0.8.2
WORKFLOWCHECK  := go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0
GO_TEST_FLAGS  ?= -count=1 -timeout 20m
FUZZTIME       ?= 10s
BENCH_EVENTS   ?= 1000000,25000000
DAILY_EVENTS   ?= 25000000
DAILY_DAYS     ?= 30
FANOUT         ?= 100,250,500,1000,2000

.PHONY: help tools chromium build run demo test unit integration lint fuzz bench bench-co bench-daily bench-fanout bench-lineage clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/temporal:
	@echo "==> building the Temporal CLI $(TEMPORAL_VER) into bin/ (first time only, about 2 minutes)"
	GOBIN=$(BIN) go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_VER)

$(BIN)/minio:
	@echo "==> building MinIO into bin/ (first time only, about 2 minutes; AGPL, run as a separate process)"
	GOBIN=$(BIN) go install github.com/minio/minio@$(MINIO_VER)

$(BIN)/staticcheck:
	@echo "==> installing staticcheck into bin/"
	GOBIN=$(BIN) go install $(STATICCHECK)

$(BIN)/workflowcheck:
	@echo "==> installing workflowcheck into bin/"
	GOBIN=$(BIN) go install $(WORKFLOWCHECK)

tools: $(BIN)/temporal $(BIN)/minio chromium ## build the temporal and minio servers into bin/ (cached); Debian's chromium for the console's browser tests

chromium: ## install Debian's chromium (headless browser tests of the console) when missing
	@command -v chromium >/dev/null 2>&1 || { echo "==> installing Debian's chromium (console browser tests; first time only)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

build: ## build bin/osservatorio (with its VCS revision, which every release records)
	@echo "==> building bin/osservatorio"
	go build -buildvcs=auto -o $(BIN)/osservatorio ./cmd/osservatorio

run: tools build ## run the platform on 127.0.0.1, state in .osservatorio/ (Ctrl-C stops everything)
	$(BIN)/osservatorio dev

demo: tools build ## like run, against the recorded-response mirror: a first release with no network
	$(BIN)/osservatorio dev --demo

test: tools ## all tests: unit, workflow, and integration against real Temporal, MinIO and DuckDB
	@echo "==> go test ./... (integration tests start Temporal and MinIO from bin/)"
	go test $(GO_TEST_FLAGS) ./...

unit: ## tests that need no server
	go test $(GO_TEST_FLAGS) -short ./...

lint: $(BIN)/staticcheck $(BIN)/workflowcheck ## go vet, staticcheck, workflowcheck, gofmt
	@echo "==> gofmt"
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	@echo "==> go vet"
	go vet ./...
	@echo "==> staticcheck"
	$(BIN)/staticcheck ./...
	@echo "==> workflowcheck"
	$(BIN)/workflowcheck ./workflows/...

fuzz: ## run every fuzz target briefly (FUZZTIME=10s each)
	@for target in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -h '^func Fuzz' $$target/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "==> fuzz $$target $$f ($(FUZZTIME))"; \
			go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$target && continue; \
			if [ -n "$$(git status --porcelain $$target/testdata/fuzz)" ]; then echo "fuzz: $$f found a failing input (above, and in $$target/testdata/fuzz)"; exit 1; fi; \
			echo "==> fuzz $$target $$f: the engine stopped without a failing input (a loaded machine); once more"; \
			go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$target || exit 1; \
		done; \
	done

bench: bench-co bench-daily ## both: a full pass against the floor, then the daily scenario

bench-co: $(BIN)/minio ## CO harmonization, platform vs bare-DuckDB floor, at BENCH_EVENTS (needs ~15 GB free for 25M)
	@echo "==> building bin/cobench"
	go build -o $(BIN)/cobench ./bench/cobench
	@echo "==> cobench: $(BENCH_EVENTS) events (CSV files are generated once into bench/out/ and reused)"
	$(BIN)/cobench run -events $(BENCH_EVENTS) -dir bench/out -bin $(BIN)

bench-daily: $(BIN)/minio ## DAILY_DAYS daily 0.1% CO increments on DAILY_EVENTS of history: stored bytes, times, bytes moved (~30 GB free for 25M)
	@echo "==> building bin/daily"
	go build -o $(BIN)/daily ./bench/daily
	@echo "==> daily: $(DAILY_EVENTS) events of history, $(DAILY_DAYS) days of 0.1% new rows, 13 observatories pulling"
	$(BIN)/daily -events $(DAILY_EVENTS) -days $(DAILY_DAYS) -dir bench/out -bin $(BIN)

bench-fanout: tools ## one release notified to 100 … 2,000 webhook subscribers (FANOUT=100,250,500,1000,2000)
	@echo "==> building bin/fanout"
	go build -o $(BIN)/fanout ./bench/fanout
	@echo "==> fanout: fresh Temporal and MinIO per count, the recorded mirror as sources, verified webhook receivers"
	$(BIN)/fanout -subscribers $(FANOUT) -bin $(BIN)

bench-lineage: ## one labour_flows cell traced to its events at BENCH_EVENTS (exports kept in bench/out/)
	@echo "==> building bin/lineagebench"
	go build -o $(BIN)/lineagebench ./bench/lineagebench
	@echo "==> lineagebench: $(BENCH_EVENTS) events: harmonize, build flows, recount one cell (cold, then warm)"
	$(BIN)/lineagebench -events $(BENCH_EVENTS) -dir bench/out

clean: ## remove built binaries and the dev state folder
	rm -rf $(BIN) .osservatorio
