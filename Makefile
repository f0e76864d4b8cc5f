# socksd — see README.md.
GO        ?= go
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BIN       := bin/socksd
# A count of inputs, not a duration: time-bounded fuzzing can fail
# spuriously with Go 1.26.8 ("context deadline exceeded" at the end).
FUZZTIME  ?= 20000x
# Pinned, so that a new staticcheck release cannot fail CI on its own.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# runtime/secret (Go experiment) lets socksd erase the copies of a job's
# password that the SSH library leaves in freed memory; see internal/scrub.
# Every build and test here uses it; `socksd version` shows it is on.
GOEXPERIMENT ?= runtimesecret
export GOEXPERIMENT

.PHONY: all build test deps bench fuzz lint cross test-s390x demo reliability package clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/socksd

deps:
	./scripts/install-deps.sh

# Every test: unit, fuzz seeds, and end-to-end against real sshd, vsftpd,
# curl and netcat (installed by `deps` when missing).
# -count=1: the end-to-end tests build socksd themselves, which the test
# cache does not see, so a cached pass could hide a change to the daemon.
# The first pass runs the end-to-end daemons on the default engine (auto:
# openssh where OpenSSH 8.4 or later is installed, as install-deps makes
# sure); the second pass runs them again with the builtin engine, and the
# tunnel package's sshd tests (builtin in the first pass) with openssh
# (SOCKSD_TEST_ENGINE).
test: deps
	$(GO) test -race -count=1 -timeout 60m ./...
	SOCKSD_TEST_ENGINE=openssh $(GO) test -race -count=1 -timeout 20m -run 'TestSSHD' ./tunnel/
	SOCKSD_TEST_ENGINE=builtin $(GO) test -race -count=1 -timeout 30m ./tests ./tests/reliability

demo: build
	./$(BIN) demo

# Benchmarks against real peers, side by side with their references, written
# to BENCHMARKS.md and BENCHMARKS*.svg. Sizes: SOCKSD_BENCH_RUNS, _MB, _IDLE,
# _IDLE_RUNS, _SESSIONS, _DELAY_MB (the sftp section's transfers through its
# 40 ms delay line); SOCKSD_BENCH_ONLY=NAME runs one section.
bench: deps build
	SOCKSD_BENCH_OUT=$(CURDIR)/BENCHMARKS.md $(GO) test -count=1 -timeout 80m -run TestBenchmarks -v ./tests/bench

# Runs every fuzz target for FUZZTIME (a count of inputs) each, all of them
# even after a failure; a failing input is left under the package's
# testdata/fuzz/<target>/ as a regression seed.
fuzz:
	@fail=""; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg || fail="$$fail $$pkg.$$f"; \
	  done; \
	done; \
	if [ -n "$$fail" ]; then echo "fuzz: failing targets:$$fail"; exit 1; fi

lint:
	@# (not tee /dev/stderr: opening it truncates a log file that stderr is)
	@files="$$(gofmt -l .)"; if [ -n "$$files" ]; then echo "$$files" >&2; echo "gofmt: files above need formatting" >&2; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@# The daemon must build where the Linux-only parts (openssh engine,
	@# capture) are stubs: the other Unix systems socksd is ported to.
	GOOS=freebsd $(GO) build -o /dev/null ./cmd/socksd

cross:
	GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/socksd-linux-amd64 ./cmd/socksd
	GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/socksd-linux-arm64 ./cmd/socksd
	GOOS=linux GOARCH=s390x $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/socksd-linux-s390x ./cmd/socksd

# Unit tests of the byte-level packages on big-endian s390x under qemu.
S390X_PKGS := ./socks/ ./ebcdic/ ./ftp/ ./jcl/ ./rules/
test-s390x: deps
	@mkdir -p bin/s390x
	@set -e; for p in $(S390X_PKGS); do \
	  n=$$(basename $$p); \
	  GOOS=linux GOARCH=s390x CGO_ENABLED=0 $(GO) test -c -o bin/s390x/$$n.test $$p; \
	  echo "== $$p (s390x)"; \
	  (cd $$p && qemu-s390x-static ../bin/s390x/$$n.test -test.short -test.timeout 10m); \
	done

# Faults, load and hostile input against the built binary and real peers;
# writes RELIABILITY.md with what each case tried and observed in this run.
reliability: deps build
	SOCKSD_RELIABILITY_OUT=$(CURDIR)/RELIABILITY.md $(GO) test -v -count=1 -timeout 30m ./tests/reliability

# Linux packages in $(DIST): socksd_PKGVERSION_ARCH.deb and an .rpm, made by
# nfpm (pinned; run as a Go tool, so it is no dependency of socksd) from
# packaging/nfpm.yaml. The binary is built as `build` does, static
# (CGO_ENABLED=0) for PKG_ARCH (default: this machine's; amd64, arm64 and
# s390x work). PKG_VERSION comes from VERSION (packaging/pkgversion.sh).
# PKG_UNIT and PKG_LOGROTATE name the unit and logrotate sources.
NFPM          := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
DIST          ?= dist
PKG_ARCH      ?= $(shell $(GO) env GOARCH)
PKG_VERSION   ?= $(shell ./packaging/pkgversion.sh '$(VERSION)')
PKG_UNIT      ?= packaging/socksd.service
PKG_LOGROTATE ?= packaging/socksd.logrotate

package:
	@for f in '$(PKG_UNIT)' '$(PKG_LOGROTATE)'; do \
	  [ -f "$$f" ] || { echo "package: $$f is missing" >&2; exit 1; }; \
	done
	@mkdir -p $(DIST)/linux-$(PKG_ARCH)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(PKG_ARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/linux-$(PKG_ARCH)/socksd ./cmd/socksd
	@for p in deb rpm; do \
	  echo "nfpm $$p $(PKG_VERSION) $(PKG_ARCH)"; \
	  SOCKSD_PKG_VERSION='$(PKG_VERSION)' SOCKSD_PKG_ARCH='$(PKG_ARCH)' \
	  SOCKSD_PKG_BIN='$(DIST)/linux-$(PKG_ARCH)/socksd' \
	  SOCKSD_PKG_UNIT='$(PKG_UNIT)' SOCKSD_PKG_LOGROTATE='$(PKG_LOGROTATE)' \
	  $(GO) run $(NFPM) package --config packaging/nfpm.yaml --packager $$p --target $(DIST)/ || exit 1; \
	done

clean:
	rm -rf bin dist
