# switchresmb — top-level build.
#
# Each module folder carries a module.mk that declares what it builds:
#   MODULES  += m      m_SRCS (C files), m_LDLIBS (external libraries)
#   PROGRAMS += p      p_SRCS, p_USES (our modules, dependents first), p_LDLIBS
#                      p_LDFIRST (shared libraries named first: their load order)
# Tests are not declared there: tests/tests.mk lists every test, one line each
#   $(call cunit, name, sources, uses, extra libs)   a CUnit binary
#   TEST_SCRIPTS += tests/integration/x.sh           a script ("N passed, N failed")
# and tests/run_tests.sh runs exactly that list.
# Objects go out of tree to $(BUILD)/obj, module archives to $(BUILD)/lib,
# programs to $(BIN), test binaries to $(BUILD)/tests.
#
#   make            build everything
#   make test       unit + integration tests, then the same under ASan+UBSan;
#                   a SKIP (something CI has was missing) is a failure here
#   make test-fast  the tests once, without the sanitizer build (skips are counted)
#   make test-one T=test_configs   build and run one test binary
#   make bench      the benchmarks of BENCHMARKS.md, quick mode (~10 min);
#                   BENCH_FULL=1 every recorded configuration (hours),
#                   BENCH_ONLY="fleet peer" only those (tests/bench/run_bench.sh)
#   make deps       install the Debian packages (apt-get; idempotent)
#   make fuzz       run every libFuzzer harness (tests/fuzz/) for FUZZ_SECONDS
#   make faults     the fault suite (tests/faults/): a 100-mailbox run per fault

BUILD   ?= build
BIN     ?= bin
# One spelling per directory: the tests pass BUILD/BIN as absolute paths
# (SR_BUILD, SR_BIN) to `make install`; objects rebuilt under an absolute
# name would get .d files whose targets never match the relative ones, and
# later builds would miss their header changes (stale objects).
override BUILD := $(patsubst $(CURDIR)/%,%,$(abspath $(BUILD)))
override BIN   := $(patsubst $(CURDIR)/%,%,$(abspath $(BIN)))
SAN     ?= 0
PREFIX  ?= /usr/local
DESTDIR ?=
SHARED_DIR ?= $(abspath ../shared)

CC      ?= cc
PKG_CFLAGS := $(shell pkg-config --cflags libxml-2.0 libcurl 2>/dev/null)
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. $(PKG_CFLAGS) -MMD -MP
LDFLAGS ?=
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
# FUZZ=1 (with CC=clang SAN=1, set by `make fuzz`): coverage for libFuzzer;
# only the fuzzers are linked in such a build (libFuzzer brings its own main).
ifeq ($(FUZZ),1)
CFLAGS  += -fsanitize=fuzzer-no-link
LDFLAGS += -fsanitize=fuzzer
endif

# `make` alone builds everything: the module templates below would otherwise
# make the first module archive the default goal.
.DEFAULT_GOAL := all

MODULES  :=
PROGRAMS :=
TESTS    :=
TEST_SCRIPTS :=
TEST_FILES   :=
TEST_TOOLS   :=   # built beside the tests, run by a test script (e.g. fuzzreplay_*)
# $(call cunit,name,sources,uses,extra libs): one CUnit test (tests/tests.mk).
define CUNIT_template
TESTS += $(1)
TEST_FILES += $(2)
$(1)_SRCS := $(2)
$(1)_USES := $(3)
$(1)_LDLIBS := -lcunit $(4)
endef
cunit = $(eval $(call CUNIT_template,$(strip $(1)),$(strip $(2)),$(strip $(3)),$(strip $(4))))
include $(sort $(wildcard */module.mk tests/*/module.mk))
include tests/tests.mk

obj_of = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
lib_of = $(foreach u,$(1),$(BUILD)/lib/lib$(u).a)
libs_ldlibs = $(foreach u,$(1),$($(u)_LDLIBS))

define MODULE_template
$(BUILD)/lib/lib$(1).a: $(call obj_of,$($(1)_SRCS))
	@mkdir -p $$(@D)
	rm -f $$@ && $$(AR) rcs $$@ $$^
endef

# $(1) = name, $(2) = output directory
define LINK_template
$(2)/$(1): $(call obj_of,$($(1)_SRCS)) $(call lib_of,$($(1)_USES))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $($(1)_LDFIRST) $(call obj_of,$($(1)_SRCS)) $(call lib_of,$($(1)_USES)) \
	    $($(1)_LDLIBS) $(call libs_ldlibs,$($(1)_USES)) $$(LDLIBS)
endef

$(foreach m,$(MODULES),$(eval $(call MODULE_template,$(m))))
$(foreach p,$(PROGRAMS),$(eval $(call LINK_template,$(p),$(BIN))))
$(foreach t,$(TESTS) $(TEST_TOOLS),$(eval $(call LINK_template,$(t),$(BUILD)/tests)))
$(foreach f,$(FUZZERS),$(eval $(call LINK_template,$(f),$(BUILD)/fuzzers)))

ALL_PROGRAMS := $(addprefix $(BIN)/,$(PROGRAMS))
ALL_TESTS    := $(addprefix $(BUILD)/tests/,$(TESTS) $(TEST_TOOLS))

.PHONY: all tests check-tests test test-fast test-asan test-one bench demo deps install deb clean \
        fuzz fuzzers faults
all: $(ALL_PROGRAMS)
tests: check-tests all $(ALL_TESTS)

# Every listed test file exists, and every test file is listed.
TEST_MISSING  := $(filter-out $(wildcard $(TEST_FILES) $(TEST_SCRIPTS)),$(TEST_FILES) $(TEST_SCRIPTS))
TEST_UNLISTED := $(filter-out $(TEST_FILES) $(TEST_SCRIPTS), \
    $(wildcard tests/*/test_*.c tests/*/*/test_*.c tests/integration/*.sh tests/e2e/*.sh))
check-tests:
	@$(if $(TEST_MISSING),echo "tests/tests.mk lists files that do not exist: $(TEST_MISSING)" >&2;) \
	 $(if $(TEST_UNLISTED),echo "test files not listed in tests/tests.mk: $(TEST_UNLISTED)" >&2;) \
	 $(if $(TEST_MISSING)$(TEST_UNLISTED),exit 1,:)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Tests: exactly the CUnit binaries and scripts tests/tests.mk lists, for this build.
RUN_TESTS = SR_ROOT=$(CURDIR) SR_BIN=$(abspath $(BIN)) SR_BUILD=$(abspath $(BUILD)) \
    SHARED_DIR=$(SHARED_DIR) SR_TESTS="$(TESTS)" SR_TEST_SCRIPTS="$(TEST_SCRIPTS)" tests/run_tests.sh
test-fast: tests
	@$(RUN_TESTS)

test-one: tests
	@$(RUN_TESTS) $(T)

# The same tests built with AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan:
	$(MAKE) BUILD=build/asan BIN=build/asan/bin SAN=1 test-fast

# `make test` = both runs; the last line is the total over both.  CI runs
# exactly this and has everything (../shared, Samba, `make deps`), so here a
# SKIP line (tu_skip) counts as a failure; an N/A line (a case that does not
# apply to the lab at hand) is counted as skipped only.
test:
	@rm -f build/summary.txt
	@mkdir -p build
	-@$(MAKE) --no-print-directory test-fast SR_SUMMARY=$(CURDIR)/build/summary.txt SR_SKIP_FAILS=1
	-@$(MAKE) --no-print-directory test-asan SR_SUMMARY=$(CURDIR)/build/summary.txt SR_SKIP_FAILS=1
	@tests/summarize.sh build/summary.txt

export SR_SUMMARY SR_SKIP_FAILS

# libFuzzer (Debian's clang, ASan+UBSan): every harness in tests/fuzz/ for
# FUZZ_SECONDS each, corpora seeded from tests/fuzz/corpus, tests/data and
# SHARED_DIR/protocol; new crashes land in tests/fuzz/findings/<harness>/.
FUZZ_SECONDS ?= 60
fuzzers: $(addprefix $(BUILD)/fuzzers/,$(FUZZERS))
fuzz:
	$(MAKE) --no-print-directory BUILD=build/fuzz BIN=build/fuzz/bin CC=clang SAN=1 FUZZ=1 fuzzers
	@SR_ROOT=$(CURDIR) SR_FUZZ_BIN=$(abspath build/fuzz/fuzzers) SHARED_DIR=$(SHARED_DIR) \
	    FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run_fuzz.sh $(H)

# The fault suite (tests/faults/): a FAULT_MAILBOXES-mailbox run (default 100)
# with the real engine under each fault, compared with the fault-free run;
# too slow for `make test`.  Needs root for the disk-full case (a tmpfs).
faults: all
	@SR_ROOT=$(CURDIR) SR_BIN=$(abspath $(BIN)) SHARED_DIR=$(SHARED_DIR) \
	    FAULT_RESULTS=$(CURDIR)/build/faults-results.txt tests/faults/run_faults.sh $(F)

bench: all
	@SR_ROOT=$(CURDIR) SR_BIN=$(abspath $(BIN)) SHARED_DIR=$(SHARED_DIR) tests/bench/run_bench.sh

demo: all
	@SR_ROOT=$(CURDIR) SR_BIN=$(abspath $(BIN)) SHARED_DIR=$(SHARED_DIR) tests/demo/run_demo.sh

# Every Debian package the build, the tests and the demo need.
DEB_PACKAGES := build-essential pkg-config \
    libldap2-dev libsasl2-dev libsasl2-modules-gssapi-mit \
    libcurl4-openssl-dev libxml2-dev libxml2-utils libcunit1-dev \
    libsodium-dev libssl-dev libgnutls28-dev libsqlite3-dev libmicrohttpd-dev libacl1-dev libunistring-dev \
    clang libclang-rt-14-dev \
    slapd ldap-utils openssl samba samba-ad-provision samba-dsdb-modules samba-vfs-modules \
    ldb-tools krb5-user iproute2 procps curl ca-certificates \
    python3 python3-exchangelib python3-aiosmtpd gnuplot-nox \
    man-db groff-base systemd debhelper lintian fakeroot libjansson-dev chromium \
    libkrb5-dev glewlwyd sqlite3 python3-jwt python3-cryptography valgrind strace time

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then echo "deps: all $(words $(DEB_PACKAGES)) packages installed"; exit 0; fi; \
	SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	echo "deps: installing:" $$missing; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing

# Configuration lives in /etc/switchresmb for a system install (PREFIX=/usr),
# else under the prefix.  The simulator (exsim) is a test tool: not installed.
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
CONFDIR    := $(SYSCONFDIR)/switchresmb
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(CONFDIR) $(DESTDIR)$(UNITDIR)
	for p in $(filter-out exsim,$(PROGRAMS)); do install -m 0755 $(BIN)/$$p $(DESTDIR)$(PREFIX)/bin/; done
	install -m 0644 docs/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 docs/man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 contrib/examples/SwitchResMB.ini.example contrib/examples/CPUU.ini.example \
	    $(DESTDIR)$(CONFDIR)/
	sed 's|@BINDIR@|$(PREFIX)/bin|g; s|@CONFDIR@|$(CONFDIR)|g' contrib/systemd/switchresmb.service.in \
	    >$(DESTDIR)$(UNITDIR)/switchresmb.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/switchresmb.service
	install -m 0644 contrib/systemd/switchresmb.timer $(DESTDIR)$(UNITDIR)/

# The Debian package, built from a copy of the tree (dpkg-buildpackage cleans
# the tree it builds in); the .deb and lintian's findings land in build/deb/.
deb:
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/src
	tar --exclude=./build --exclude=./bin --exclude=./.git -cf - . | tar -xf - -C $(BUILD)/deb/src
	cd $(BUILD)/deb/src && dpkg-buildpackage -us -uc -b >../build.log 2>&1 || { tail -40 ../build.log; exit 1; }
	lintian --fail-on error $(BUILD)/deb/*.deb >$(BUILD)/deb/lintian.txt 2>&1; rc=$$?; \
	    cat $(BUILD)/deb/lintian.txt; exit $$rc
	@ls $(BUILD)/deb/*.deb

clean:
	rm -rf build $(BIN)
