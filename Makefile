# Makefile — builds the cofab binary, its library, tests, benchmarks and fuzzers.
#
# Sources are discovered: every .c in ledger/ matcher/ node/ goes into
# libcofab.a (node/main.c alone makes the binary); every tests/unit/test_*.c
# is a cmocka suite; every tests/cli/*.sh is a shell test run against the
# built binary; every tests/bench/*_bench.c is a benchmark.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
BUILD ?= build

CC ?= cc
CFLAGS ?= -O2 -g
LDFLAGS ?=
PKG_CONFIG ?= pkg-config

# Debian packages the build, the tests and the benchmarks need.
DEB_PKGS := build-essential pkg-config libsodium-dev libzmq3-dev liblmdb-dev \
            libcmocka-dev libcbor-dev libjansson-dev libinih-dev valgrind lmdb-utils \
            golang-go golang-golang-x-mod-dev python3 openssl libmicrohttpd-dev \
            chromium wrk
PKGS := libsodium libzmq lmdb libcbor jansson inih libmicrohttpd
TEST_PKGS := cmocka

WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
        -Wmissing-prototypes -Wformat=2
BASE_CFLAGS := -MMD -MP -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude $(WARN)

# Evaluated lazily (and once per make invocation via the sub-make below) so
# that `make test` on a machine without the -dev packages can run `deps` first.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS)) -lpthread -lm
TEST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS))
TEST_LIBS = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS))

LIB_SRC := $(sort $(wildcard ledger/*.c matcher/*.c) $(filter-out node/main.c,$(wildcard node/*.c)))
LIB_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
LIB := $(BUILD)/libcofab.a
BIN := $(BUILD)/cofab

TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TEST_SUPPORT_SRC := $(wildcard tests/unit/support/*.c)
TEST_SUPPORT_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SUPPORT_SRC))
CLI_TESTS := $(sort $(wildcard tests/cli/*.sh))

BENCH_SRC := $(sort $(wildcard tests/bench/*_bench.c))
BENCH_BIN := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

# Drills: tests/drills/NN-*.sh scripts, plus test-only programs tests/drills/*.c
# (built into $(BUILD)/drills/, never installed).
DRILL_SRC := $(sort $(wildcard tests/drills/*.c))
DRILL_BIN := $(patsubst tests/drills/%.c,$(BUILD)/drills/%,$(DRILL_SRC))
DRILLS := $(sort $(wildcard tests/drills/[0-9]*.sh))
DRILL_MODE ?= short

FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz-replay/%,$(FUZZ_SRC))

.PHONY: all deps test test-run check-asan bench bench-run install clean demo fuzz fuzz-build valgrind valgrind-run \
        drills drills-run drills-asan

all: $(BIN)

# Installs the missing Debian -dev packages when root, else prints the line.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "deps: missing packages; run:"; echo "  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

$(BUILD)/%.o: %.c $(wildcard include/cofab/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(PKG_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) -c $< -o $@

# Test helpers see tests/unit/ as an include root (the shortest stem wins).
$(BUILD)/tests/unit/support/%.o: tests/unit/support/%.c $(wildcard include/cofab/*.h tests/unit/support/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Itests/unit $(PKG_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN): $(BUILD)/node/main.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(TEST_SUPPORT_OBJ) $(LIB) $(wildcard include/cofab/*.h tests/unit/support/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Itests/unit $(PKG_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_SUPPORT_OBJ) $(LIB) $(PKG_LIBS) $(TEST_LIBS)

$(BUILD)/bench/%: tests/bench/%.c $(LIB) $(wildcard include/cofab/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

$(BUILD)/drills/%: tests/drills/%.c $(LIB) $(wildcard include/cofab/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

# Each fuzz target linked with a plain main that replays its corpus.
$(BUILD)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay_main.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay_main.c $(LIB) $(PKG_LIBS)

# The whole suite: every cmocka binary, the fuzz corpora, then the CLI scripts. Each suite's
# summary is printed; the run fails if any suite fails.
test: deps
	@$(MAKE) --no-print-directory test-run

test-run: $(BIN) $(TEST_BIN) $(FUZZ_REPLAY)
	@fail=0; pass=0; \
	for t in $(TEST_BIN); do \
	  echo "== $$t"; \
	  if COFAB_BIN=$(abspath $(BIN)) $$t; then pass=$$((pass+1)); else echo "FAILED: $$t"; fail=$$((fail+1)); fi; \
	done; \
	for t in $(FUZZ_REPLAY); do \
	  n=$$(basename $$t); echo "== replay $$n"; \
	  if $$t tests/fuzz/corpus/$$n; then pass=$$((pass+1)); else echo "FAILED: replay $$n"; fail=$$((fail+1)); fi; \
	done; \
	for t in $(CLI_TESTS); do \
	  echo "== $$t"; \
	  if COFAB_BIN=$(abspath $(BIN)) bash $$t; then pass=$$((pass+1)); else echo "FAILED: $$t"; fail=$$((fail+1)); fi; \
	done; \
	echo "suites: $$pass passed, $$fail failed"; \
	[ $$fail -eq 0 ]

# Same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
check-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CFLAGS="-O1 -g $(SAN)" LDFLAGS="$(SAN)" \
	  ASAN_OPTIONS=detect_leaks=1 test-run

# Unit suites under valgrind's leak checker (the crash test forks children
# that are killed on purpose; only the parent's leaks count).
valgrind: deps
	@$(MAKE) --no-print-directory BUILD=build-vg CFLAGS="-O0 -g" valgrind-run

valgrind-run: $(BIN) $(TEST_BIN)
	@fail=0; for t in $(TEST_BIN); do \
	  echo "== valgrind $$t"; \
	  COFAB_BIN=$(abspath $(BIN)) COFAB_UNDER_VALGRIND=1 valgrind -q --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 $$t >$$t.vg.out 2>&1 \
	    || { cat $$t.vg.out; fail=1; }; \
	done; [ $$fail -eq 0 ] && echo "valgrind: no leaks, no errors"

bench: deps
	@$(MAKE) --no-print-directory bench-run

bench-run: $(BIN) $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; COFAB_BIN=$(abspath $(BIN)) $$b || exit 1; done
	@for b in $(sort $(wildcard tests/bench/*_bench.sh)); do echo "== $$b"; \
	  COFAB_BIN=$(abspath $(BIN)) bash $$b || exit 1; done

# libFuzzer targets (clang); each links the library built with the same flags.
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
fuzz-build: deps
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang CFLAGS="-O1 -g $(FUZZ_FLAGS)" build-fuzz/libcofab.a
	@mkdir -p build-fuzz/fuzz
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  clang $(BASE_CFLAGS) $$($(PKG_CONFIG) --cflags $(PKGS)) -O1 -g -fsanitize=fuzzer,address,undefined \
	    -o build-fuzz/fuzz/$$n $$f build-fuzz/libcofab.a $$($(PKG_CONFIG) --libs $(PKGS)) -lpthread -lm || exit 1; \
	done

FUZZ_RUNS ?= 200000
# New inputs go to build-fuzz/corpus (the first directory); the committed
# seeds in tests/fuzz/corpus are only read.
fuzz: fuzz-build
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); mkdir -p build-fuzz/corpus/$$n tests/fuzz/corpus/$$n; \
	  echo "== $$n"; build-fuzz/fuzz/$$n -runs=$(FUZZ_RUNS) -max_len=70000 \
	    build-fuzz/corpus/$$n tests/fuzz/corpus/$$n || exit 1; done

# Fault drills against real processes on 127.0.0.1; each prints one verdict
# line. DRILL_MODE=short (CI) or long (the full-size run reported in docs/).
drills: deps
	@$(MAKE) --no-print-directory drills-run

drills-run: $(BIN) $(DRILL_BIN)
	@fail=0; pass=0; for d in $(DRILLS); do \
	  echo "== $$d"; \
	  if COFAB_BIN=$(abspath $(BIN)) COFAB_DRILL_DIR=$(abspath $(BUILD)/drills) \
	     DRILL_MODE=$(DRILL_MODE) bash $$d; then pass=$$((pass+1)); else echo "FAILED: $$d"; fail=$$((fail+1)); fi; \
	done; echo "drills: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

# The same drills with the ASan+UBSan build (LeakSanitizer on).
drills-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CFLAGS="-O1 -g $(SAN)" LDFLAGS="$(SAN)" \
	  ASAN_OPTIONS=detect_leaks=1 drills-run

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	@$(BIN) demo

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/cofab
	@if [ -f docs/cofab.1 ]; then install -d $(DESTDIR)$(MANDIR)/man1 && install -m 0644 docs/cofab.1 $(DESTDIR)$(MANDIR)/man1/cofab.1; fi

clean:
	rm -rf build build-asan build-vg build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
