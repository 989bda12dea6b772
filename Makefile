# certinit: `make test` installs what the tests need (scripts/deps.sh), then vets
# and runs every test with the race detector. `make bench` prints the benchmark
# table; `make demo` runs the end-to-end demo.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 60s

.PHONY: all build deps test bench demo fuzz stress clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -tags urfave_cli_no_docs -trimpath -ldflags='$(LDFLAGS)' -o bin/certinit ./cmd/certinit

deps:
	./scripts/deps.sh

test: deps
	$(GO) vet ./...
	$(GO) test -race -timeout 40m ./...
	./scripts/fuzz.sh 3s

bench: deps build
	./scripts/bench.sh

demo: deps # the demo builds bin/certinit itself, as its first step
	./scripts/demo.sh

fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

stress: deps build
	$(GO) test -race -timeout 60m -tags stress ./...

clean:
	rm -rf bin .bin
