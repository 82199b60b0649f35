# streamproc — every target a user or CI runs. `make help` lists them.
# Tools are pinned: Go modules and staticcheck (a tool directive) in go.mod,
# the CDK CLI and emulators in package-lock.json, aws-lambda-rie below.

SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
STAGE        ?= dev
STACK        ?= StreamProc-$(STAGE)
CDK          := npx --no-install cdk
BIN          := $(CURDIR)/.bin
BUILD        := $(CURDIR)/.build
# Applications in their own Go module under examples/ (each with a go.mod and
# a cdk.json): make test tests and synthesizes them, make lint lints them.
EXAMPLES     := $(patsubst %/go.mod,%,$(wildcard examples/*/go.mod))
RIE_VERSION  := v0.0.0-20261030222936-bef5c4ba774d
# The jsii runtime (embedded in jsii-runtime-go, bin/jsii-runtime.js checkNode)
# prints a banner for Node releases past their jsii support date. Node 20 is
# past it (2026-10-30) and still works. The variable takes a comma-separated
# list of major versions, so only Node 20 is silenced: a newer unsupported
# Node would still warn.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.DEFAULT_GOAL := help
.PHONY: help setup build test synth examples diff deploy destroy lint bench dashboard local e2e clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

setup: node_modules/.installed $(BIN)/aws-lambda-rie ## install pinned tools (npm ci, go mod download, aws-lambda-rie)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@# npm's postinstall writes it; `npm install <pkg>` skips that, so make sure.
	@test -f node_modules/go.mod || printf 'module nodemodules\n' > node_modules/go.mod
	go mod download
	@touch $@

$(BIN)/aws-lambda-rie:
	GOBIN=$(BIN) go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

build: setup ## build every functions/* bootstrap (linux/arm64; ARCH=amd64 for this machine) into .build/
	go run ./internal/tools/build -out $(BUILD) -arch $(or $(ARCH),arm64)

synth: setup ## synthesize the example stack with cdk-nag (fails on any finding)
	$(CDK) synth --quiet -c stage=$(STAGE)
	@echo "template: cdk.out/$(STACK).template.json"

test: setup ## run all Go tests (unit, CDK assertions, emulator integration), a cdk-nag synth, and the same for examples/*
	go test -count=1 ./...
	$(MAKE) --no-print-directory synth
	$(MAKE) --no-print-directory examples

# Each example is its own module: its tests (dynalite required), then its CDK
# app synthesized with cdk-nag by the repository's pinned CDK CLI.
examples: setup ## test and synthesize (cdk-nag on) every application under examples/
	@for ex in $(EXAMPLES); do \
	  echo "== $$ex"; \
	  ( cd $$ex && REQUIRE_DYNALITE=1 go test -count=1 ./... && $(CURDIR)/node_modules/.bin/cdk synth --quiet ) || exit 1; \
	done

diff: setup ## cdk diff against the deployed stack (needs AWS credentials)
	$(CDK) diff -c stage=$(STAGE)

deploy: setup ## cdk deploy the example stack (needs AWS credentials and cdk bootstrap)
	$(CDK) deploy -c stage=$(STAGE) --require-approval broadening

destroy: setup ## cdk destroy the example stack
	$(CDK) destroy -c stage=$(STAGE)

lint: setup ## go mod tidy -diff, gofmt, go vet, staticcheck (pinned in go.mod), here and in examples/*
	go mod tidy -diff
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	go tool staticcheck ./...
	@sc=$$(go tool -n staticcheck); for ex in $(EXAMPLES); do \
	  echo "== $$ex"; \
	  ( cd $$ex && go mod tidy -diff && go vet ./... && $$sc ./... ) || exit 1; \
	done

bench: setup ## processor benchmarks against Python/Node/Powertools baselines, with ratios
	go run ./internal/tools/bench

# The screenshot needs a Chromium: CHROME=/path/to/chrome, else chromium,
# chromium-browser or google-chrome on PATH. Nothing is installed here.
dashboard: synth ## render the synthesized dashboard to cdk.out/dashboard.png (+ .html); CHROME=... picks the browser
	@found=$(CHROME); for b in chromium chromium-browser google-chrome google-chrome-stable; do \
	  [ -n "$$found" ] || ! command -v $$b >/dev/null 2>&1 || found=$$b; done; \
	if [ -z "$$found" ]; then \
	  echo "dashboard: no Chromium found. Install one (Debian/Ubuntu: sudo apt-get install chromium) or pass CHROME=/path/to/chrome." >&2; \
	  echo "dashboard: the HTML page alone: go run ./internal/tools/dashpreview -html-only -template $(TEMPLATE) -out cdk.out/dashboard.png" >&2; \
	  exit 1; fi
	go run ./internal/tools/dashpreview -template $(TEMPLATE) -out cdk.out/dashboard.png $(if $(CHROME),-chromium "$(CHROME)")

# local and e2e read the pipeline's settings from the synthesized template;
# re-synthesize when the app, the construct or cdk.json changed since.
TEMPLATE     := cdk.out/$(STACK).template.json
SYNTH_INPUTS := $(shell git ls-files infra constructs functions/contract functions/processor/config internal/gobuild cdk.json 2>/dev/null)
$(TEMPLATE): $(SYNTH_INPUTS) | setup
	$(MAKE) --no-print-directory synth

local: $(TEMPLATE) ## run the whole pipeline on this machine (emulators + real bootstrap under aws-lambda-rie); ARGS="--count 20000 --rate 0"
	go run ./cmd/streamctl local --template cdk.out/$(STACK).template.json $(ARGS)

e2e: $(TEMPLATE) ## end-to-end fault suite against the local pipeline (prints a table of cases), then examples/orders through it
	STREAMPROC_TEMPLATE=$(CURDIR)/cdk.out/$(STACK).template.json go test -count=1 -tags e2e -timeout 15m -v ./internal/e2e/...
	cd examples/orders && $(CURDIR)/node_modules/.bin/cdk synth --quiet
	STREAMPROC_ORDERS_TEMPLATE=$(CURDIR)/examples/orders/cdk.out/OrdersApp.template.json go test -count=1 -run TestOrdersApp -v ./internal/localrun/

clean: ## remove build output (keeps node_modules and .bin)
	rm -rf $(BUILD) cdk.out $(addsuffix /cdk.out,$(EXAMPLES))
