# streamproc — every target a user or CI runs. `make help` lists them.
# Tools are pinned: Go modules in go.mod, the CDK CLI and emulators in
# package-lock.json, staticcheck and aws-lambda-rie below.

SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
STAGE        ?= dev
STACK        ?= StreamProc-$(STAGE)
CDK          := npx --no-install cdk
BIN          := $(CURDIR)/.bin
BUILD        := $(CURDIR)/.build
STATICCHECK  := honnef.co/go/tools/cmd/staticcheck@v0.8.2
RIE_VERSION  := v0.0.0-20261030222936-bef5c4ba774d
# The jsii runtime (embedded in jsii-runtime-go, bin/jsii-runtime.js checkNode)
# prints a banner for Node releases past their jsii support date. Node 20 is
# past it (2026-10-30) and still works. The variable takes a comma-separated
# list of major versions, so only Node 20 is silenced: a newer unsupported
# Node would still warn.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.DEFAULT_GOAL := help
.PHONY: help setup build test synth diff deploy destroy lint bench dashboard local e2e clean

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

test: setup ## run all Go tests (unit, CDK assertions, emulator integration) and a cdk-nag synth
	go test -count=1 ./...
	$(MAKE) --no-print-directory synth

diff: setup ## cdk diff against the deployed stack (needs AWS credentials)
	$(CDK) diff -c stage=$(STAGE)

deploy: setup ## cdk deploy the example stack (needs AWS credentials and cdk bootstrap)
	$(CDK) deploy -c stage=$(STAGE) --require-approval broadening

destroy: setup ## cdk destroy the example stack
	$(CDK) destroy -c stage=$(STAGE)

lint: setup ## gofmt, go vet, staticcheck (pinned)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...

bench: setup ## processor benchmarks against Python/Node/Powertools baselines, with ratios
	go run ./internal/tools/bench

dashboard: synth ## render the synthesized dashboard to cdk.out/dashboard.png (+ .html)
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "dashboard: installing the Debian chromium package for the screenshot"; \
	  sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium fonts-liberation fonts-dejavu-core; }
	go run ./internal/tools/dashpreview -template cdk.out/$(STACK).template.json -out cdk.out/dashboard.png

# local and e2e read the pipeline's settings from the synthesized template;
# re-synthesize when the app, the construct or cdk.json changed since.
TEMPLATE     := cdk.out/$(STACK).template.json
SYNTH_INPUTS := $(shell git ls-files infra constructs functions/contract functions/processor/config internal/gobuild cdk.json 2>/dev/null)
$(TEMPLATE): $(SYNTH_INPUTS) | setup
	$(MAKE) --no-print-directory synth

local: $(TEMPLATE) ## run the whole pipeline on this machine (emulators + real bootstrap under aws-lambda-rie); ARGS="--count 20000 --rate 0"
	go run ./cmd/streamctl local --template cdk.out/$(STACK).template.json $(ARGS)

e2e: $(TEMPLATE) ## end-to-end fault suite against the local pipeline (prints a table of cases)
	STREAMPROC_TEMPLATE=$(CURDIR)/cdk.out/$(STACK).template.json go test -count=1 -tags e2e -timeout 15m -v ./internal/e2e/...

clean: ## remove build output (keeps node_modules and .bin)
	rm -rf $(BUILD) cdk.out
