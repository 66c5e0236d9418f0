# Kluis — a plain Makefile. `make` builds kluisd and kluis; `make check` sets up and runs every
# test (normal and ASan+UBSan builds); `make run` starts a demo vault. See README.md.

CC       ?= cc
PKGS_SRV := libsodium lmdb libmicrohttpd jansson
PKGS_CLI := libsodium jansson libcurl
PKGS_ALL := libsodium lmdb libmicrohttpd jansson libcurl

WARN     := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wvla
# OPT is the optimisation and instrumentation part (make asan replaces it); the rest always applies.
OPT      ?= -O2 -g -D_FORTIFY_SOURCE=2
override CFLAGS += -std=c11 -D_GNU_SOURCE -fstack-protector-strong -fno-strict-aliasing $(WARN) -I. $(OPT)
ASAN     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

pc_cflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pc_libs   = $(shell pkg-config --libs $(1) 2>/dev/null)

# Flat source lists: each directory is one library; every .c in it is part of it.
VAULT_SRC  := $(sort $(wildcard vault/*.c))
POLICY_SRC := $(sort $(wildcard policy/*.c))
API_SRC    := $(sort $(filter-out api/main.c,$(wildcard api/*.c)))
CLI_SRC    := $(sort $(filter-out cli/main.c,$(wildcard cli/*.c)))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
APITEST_SRC:= $(sort $(wildcard tests/api/test_*.c))
CLITEST_SH := $(sort $(wildcard tests/cli/*.sh))
TESTLIB_SRC:= $(sort $(filter-out $(UNIT_SRC) $(APITEST_SRC),$(wildcard tests/unit/*.c tests/api/*.c)))

B ?= build
# The shared contract (SPEC, vectors, baselines) lives beside the checkout.
SHARED ?= $(abspath $(firstword $(wildcard $(KLUIS_SHARED) ../shared /work/shared)))
LIB_OBJ  = $(patsubst %.c,$(B)/obj/%.o,$(VAULT_SRC) $(POLICY_SRC))
API_OBJ  = $(patsubst %.c,$(B)/obj/%.o,$(API_SRC))
CLI_OBJ  = $(patsubst %.c,$(B)/obj/%.o,$(CLI_SRC))
TLIB_OBJ = $(patsubst %.c,$(B)/obj/%.o,$(TESTLIB_SRC))
UNIT_BIN = $(patsubst tests/unit/test_%.c,$(B)/tests/test_%,$(UNIT_SRC))
API_BIN  = $(patsubst tests/api/test_%.c,$(B)/tests/api_%,$(APITEST_SRC))
CLI_TEST = $(patsubst tests/cli/%.sh,$(B)/tests/cli_%,$(CLITEST_SH))

.PHONY: all asan check test deps run bench fuzz clean web torture valgrind lint
all: $(B)/kluisd $(B)/kluis
	@ln -sf $(B)/kluisd kluisd; ln -sf $(B)/kluis kluis
	@if [ -d web/node_modules ]; then sh web/build.sh; fi

# The citizen web page: npm packages from the committed lockfile, built into web/dist.
web: deps
	@if [ ! -d web/node_modules/libsodium-wrappers-sumo ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then \
	    cd web && npm ci --no-audit --no-fund --loglevel=error; fi
	sh web/build.sh

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(call pc_cflags,$(PKGS_ALL)) -MMD -MP -c $< -o $@

$(B)/libkluis.a: $(LIB_OBJ)
	@mkdir -p $(dir $@); rm -f $@; printf "!<arch>\n" > $@; $(if $^,ar rcs $@ $^)
$(B)/libkluisapi.a: $(API_OBJ)
	@mkdir -p $(dir $@); rm -f $@; printf "!<arch>\n" > $@; $(if $^,ar rcs $@ $^)
$(B)/libkluiscli.a: $(CLI_OBJ)
	@mkdir -p $(dir $@); rm -f $@; printf "!<arch>\n" > $@; $(if $^,ar rcs $@ $^)

$(B)/kluisd: $(B)/obj/api/main.o $(B)/libkluisapi.a $(B)/libkluis.a
	$(CC) $(CFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_SRV)) -lpthread
$(B)/kluis: $(B)/obj/cli/main.o $(B)/libkluiscli.a $(B)/libkluis.a
	$(CC) $(CFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CLI) lmdb) -lpthread

$(B)/tests/test_%: $(B)/obj/tests/unit/test_%.o $(TLIB_OBJ) $(B)/libkluisapi.a $(B)/libkluiscli.a $(B)/libkluis.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_ALL)) -lpthread
$(B)/tests/api_%: $(B)/obj/tests/api/test_%.o $(TLIB_OBJ) $(B)/libkluisapi.a $(B)/libkluiscli.a $(B)/libkluis.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_ALL)) -lpthread

# End-to-end CLI tests are shell scripts, copied beside the binaries they test (build[/asan]/tests).
$(B)/tests/cli_%: tests/cli/%.sh
	@mkdir -p $(dir $@)
	cp $< $@ && chmod +x $@

tests: $(UNIT_BIN) $(API_BIN) $(CLI_TEST) $(B)/kluisd $(B)/kluis

asan:
	$(MAKE) B=build/asan CC=clang OPT="$(ASAN)" all tests

deps:
	@scripts/deps.sh

# Runs every test of the normal and the sanitizer build, then one tally line.
check: deps
	$(MAKE) web
	$(MAKE) all tests
	$(MAKE) asan
	@KLUIS_VECTORS=$(SHARED)/vectors tests/run.sh \
	    $(UNIT_BIN) $(API_BIN) $(CLI_TEST) web/test.sh \
	    $(patsubst build/%,build/asan/%,$(UNIT_BIN) $(API_BIN) $(CLI_TEST))

test: check

run: deps
	$(MAKE) web
	$(MAKE) all
	@scripts/demo.sh

# Issue 7: Kluis against the limit server and PostgreSQL, side by side (bench/run.sh; results in bench/results/).
bench: deps
	$(MAKE) all
	bench/run.sh

# Issue 8's long fault tests (README "Torture tests"): 200 kill -9 rounds, then the fault tests.
torture: deps
	$(MAKE) all tests
	tests/torture/run.sh
	tests/torture/flood.sh $(B)
	tests/torture/mixed.sh $(B)
	tests/coredump.sh $(B)

# The normal-build tests and their kluisd under valgrind memcheck; cppcheck and clang-tidy.
valgrind: deps
	$(MAKE) all tests
	tests/valgrind.sh $(B)
lint:
	tests/lint.sh

# libFuzzer targets (fuzz/): each runs FUZZ_SECONDS on a copy of its committed seed corpus.
FUZZ_SECONDS ?= 60
fuzz: deps
	$(MAKE) -C fuzz run SECONDS=$(FUZZ_SECONDS)

clean:
	rm -rf build kluisd kluis web/dist web/test-output

-include $(shell find build -name '*.d' 2>/dev/null)
