# userhub. `make run` serves on :8080 with SQLite in ./data; `make test` runs
# every test (PostgreSQL, Redis and Chromium suites skip with a message when
# the service is absent; .ci/run provides them).

GO        ?= go
BIN       := bin/userhub
PKGS      := ./...
# A static binary: no cgo (the SQLite driver is pure Go).
export CGO_ENABLED := 0

.PHONY: build run test bench lint cross fuzz screenshots deb vendor-swagger-ui clean

# -buildvcs=auto stamps the git revision into the binary (userhub version,
# /healthz), even where GOFLAGS says -buildvcs=false.
build:
	$(GO) build -trimpath -buildvcs=auto -o $(BIN) .

run: build
	./$(BIN)

# Every test, with the PostgreSQL and Redis found on this machine, and a
# summary of the optional suites (see testsuite/). TESTFLAGS adds go test
# flags, e.g. make test TESTFLAGS='-run TestContract'.
test:
	$(GO) run ./testsuite $(TESTFLAGS)

# A bounded load run on loopback: userhub next to a bare net/http handler
# that answers the same bytes, in the same run. See bench/.
# Then: 1,000,000 users on SQLite (and PostgreSQL, with
# USERHUB_TEST_POSTGRES_DSN): first page, a deep page, a prefix search;
# and one render of the user list page.
# With PostgreSQL (and Redis) answering on loopback, as make test finds
# them, or where USERHUB_TEST_POSTGRES_DSN / USERHUB_TEST_REDIS_ADDR say,
# the load run measures instances on PostgreSQL too, and the million-user
# benchmark runs there as well.
bench: PG_DSN = $(or $(USERHUB_TEST_POSTGRES_DSN),$(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'))
bench: REDIS_ADDR = $(or $(USERHUB_TEST_REDIS_ADDR),$(shell redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && echo 127.0.0.1:6379))
bench: build
	$(GO) run ./bench -bin $(BIN) -postgres '$(PG_DSN)' -redis '$(REDIS_ADDR)'
	USERHUB_TEST_POSTGRES_DSN='$(PG_DSN)' $(GO) test -run '^$$' -bench 'MillionUsers' -benchtime 2000x ./store/
	$(GO) test -run '^$$' -bench 'HomePage' -benchmem ./handlers/

lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

# Each fuzz target for a bounded number of runs, on top of its committed
# corpus (testdata/fuzz/); a failure leaves its input there. A count, not a
# duration: Go 1.26's fuzzing coordinator can fail a target that found
# nothing with "context deadline exceeded" when a -fuzztime duration ends
# while a starved worker is mid-run (go.dev/issue/75804, fixed in Go 1.27);
# a count sets no deadline. 20000 runs take about 10 s for the slowest
# target here (FuzzDecodeJSON, through the whole handler chain).
FUZZTIME ?= 20000x
FUZZ     := FuzzDecodeJSON FuzzSessionCookie FuzzAppendJSONString FuzzUserRows
fuzz:
	@for f in $(FUZZ); do \
	  echo "$$f ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./handlers/ || exit 1; \
	done

# The screenshots in docs/screenshots/ (login page and user list, English
# and Korean), taken again by a browser test from the pages as they are now:
# run after changing a page, and commit the PNGs. Needs Chromium and a Korean
# font (Debian: apt-get install -y chromium fonts-nanum); it fails, rather
# than skips, without them. make test takes the same pictures into a
# temporary directory, to check them, and leaves docs/ alone.
screenshots:
	USERHUB_UPDATE_SCREENSHOTS=1 $(GO) test -count=1 -run '^TestScreenshots$$' ./e2e/
	@ls -l docs/screenshots/

# Check that every package builds for Windows and macOS (cluster mode is
# Unix-only: on Windows, serve refuses it at start-up).
cross:
	GOOS=windows $(GO) build $(PKGS)
	GOOS=darwin $(GO) build $(PKGS)

# The API reference's renderer (/api/docs), vendored from npm into
# static/vendor/swagger-ui/ and committed: the package at this version, its
# tarball checked against the sha512 pinned here (npm view
# swagger-ui-dist@VERSION dist.integrity), of which only the bundle, its
# stylesheet and the licences are kept. Change both lines to upgrade.
SWAGGER_UI_VERSION   := 5.35.0
SWAGGER_UI_INTEGRITY := sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
SWAGGER_UI_DIR       := static/vendor/swagger-ui
vendor-swagger-ui:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  (cd "$$tmp" && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) >/dev/null); \
	  tgz="$$tmp/swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz"; \
	  got=$$(node -e "process.stdout.write('sha512-'+require('crypto').createHash('sha512').update(require('fs').readFileSync(process.argv[1])).digest('base64'))" "$$tgz"); \
	  if [ "$$got" != "$(SWAGGER_UI_INTEGRITY)" ]; then echo "swagger-ui-dist@$(SWAGGER_UI_VERSION): integrity $$got, want $(SWAGGER_UI_INTEGRITY)" >&2; exit 1; fi; \
	  tar -xzf "$$tgz" -C "$$tmp"; \
	  rm -rf $(SWAGGER_UI_DIR); mkdir -p $(SWAGGER_UI_DIR); \
	  cp "$$tmp/package/swagger-ui-bundle.js" "$$tmp/package/swagger-ui.css" "$$tmp/package/swagger-ui-bundle.js.LICENSE.txt" $(SWAGGER_UI_DIR)/; \
	  cp "$$tmp/package/LICENSE" $(SWAGGER_UI_DIR)/LICENSE.txt; cp "$$tmp/package/NOTICE" $(SWAGGER_UI_DIR)/NOTICE.txt; \
	  echo "swagger-ui-dist $(SWAGGER_UI_VERSION) ($(SWAGGER_UI_INTEGRITY)) in $(SWAGGER_UI_DIR)"; ls -l $(SWAGGER_UI_DIR)

clean:
	rm -rf bin dist
	$(GO) clean -testcache

# The Debian package (deploy/debian/nfpm.yaml), in dist/: the static binary
# for this machine's architecture, without its symbol table (-s -w: half
# the size; the build information stays), versioned from git.
NFPM        := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
DEB_VERSION ?= $(shell git describe --tags --always 2>/dev/null | sed -E 's/^v//; s/^([^0-9])/0~\1/' || echo 0~dev)
deb:
	mkdir -p dist
	$(GO) build -trimpath -buildvcs=auto -ldflags '-s -w' -o bin/userhub-deb .
	DEB_ARCH=$$($(GO) env GOARCH) DEB_VERSION='$(DEB_VERSION)' \
	  $(GO) run $(NFPM) package --config deploy/debian/nfpm.yaml --packager deb --target dist/
