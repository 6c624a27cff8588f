# switchresmb — top-level build.
#
# Each module folder carries a module.mk that declares what it builds:
#   MODULES  += m      m_SRCS (C files), m_LDLIBS (external libraries)
#   PROGRAMS += p      p_SRCS, p_USES (our modules, dependents first), p_LDLIBS
#   TESTS    += t      t_SRCS, t_USES, t_LDLIBS        (CUnit binaries)
# Objects go out of tree to $(BUILD)/obj, module archives to $(BUILD)/lib,
# programs to $(BIN), test binaries to $(BUILD)/tests.
#
#   make            build everything
#   make test       unit + integration tests, then the same under ASan+UBSan
#   make test-fast  the tests once, without the sanitizer build
#   make test-one T=test_configs   build and run one test binary
#   make deps       install the Debian packages (apt-get; idempotent)

BUILD   ?= build
BIN     ?= bin
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

MODULES  :=
PROGRAMS :=
TESTS    :=
include $(sort $(wildcard */module.mk tests/*/module.mk))

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
	$$(CC) $$(LDFLAGS) -o $$@ $(call obj_of,$($(1)_SRCS)) $(call lib_of,$($(1)_USES)) \
	    $($(1)_LDLIBS) $(call libs_ldlibs,$($(1)_USES)) $$(LDLIBS)
endef

$(foreach m,$(MODULES),$(eval $(call MODULE_template,$(m))))
$(foreach p,$(PROGRAMS),$(eval $(call LINK_template,$(p),$(BIN))))
$(foreach t,$(TESTS),$(eval $(call LINK_template,$(t),$(BUILD)/tests)))

ALL_PROGRAMS := $(addprefix $(BIN)/,$(PROGRAMS))
ALL_TESTS    := $(addprefix $(BUILD)/tests/,$(TESTS))

.PHONY: all tests test test-fast test-asan test-one bench demo deps install clean
all: $(ALL_PROGRAMS)
tests: all $(ALL_TESTS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Tests: every CUnit binary and every tests/integration/*.sh, for this build.
test-fast: tests
	@SR_ROOT=$(CURDIR) SR_BIN=$(abspath $(BIN)) SR_BUILD=$(abspath $(BUILD)) \
	    SHARED_DIR=$(SHARED_DIR) tests/run_tests.sh

test-one: tests
	@SR_ROOT=$(CURDIR) SR_BIN=$(abspath $(BIN)) SR_BUILD=$(abspath $(BUILD)) \
	    SHARED_DIR=$(SHARED_DIR) tests/run_tests.sh $(T)

# The same tests built with AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan:
	$(MAKE) BUILD=build/asan BIN=build/asan/bin SAN=1 test-fast

# `make test` = both runs; the last line is the total over both.
test:
	@rm -f build/summary.txt
	@mkdir -p build
	-@$(MAKE) --no-print-directory test-fast SR_SUMMARY=$(CURDIR)/build/summary.txt
	-@$(MAKE) --no-print-directory test-asan SR_SUMMARY=$(CURDIR)/build/summary.txt
	@tests/summarize.sh build/summary.txt

export SR_SUMMARY

bench: all
	@SR_ROOT=$(CURDIR) SR_BIN=$(abspath $(BIN)) SHARED_DIR=$(SHARED_DIR) tests/bench/run_bench.sh

demo: all
	@SR_ROOT=$(CURDIR) SR_BIN=$(abspath $(BIN)) SHARED_DIR=$(SHARED_DIR) tests/demo/run_demo.sh

# Every Debian package the build, the tests and the demo need.
DEB_PACKAGES := build-essential pkg-config \
    libldap2-dev libsasl2-dev libsasl2-modules-gssapi-mit \
    libcurl4-openssl-dev libxml2-dev libxml2-utils libcunit1-dev \
    libsodium-dev libssl-dev libsqlite3-dev libmicrohttpd-dev \
    slapd ldap-utils openssl samba samba-ad-provision samba-dsdb-modules samba-vfs-modules \
    ldb-tools krb5-user iproute2 procps curl \
    python3 python3-exchangelib python3-aiosmtpd \
    libjansson-dev libkrb5-dev glewlwyd sqlite3 python3-jwt python3-cryptography

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then echo "deps: all $(words $(DEB_PACKAGES)) packages installed"; exit 0; fi; \
	SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	echo "deps: installing:" $$missing; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	for p in $(filter-out exsim,$(PROGRAMS)); do install -m 0755 $(BIN)/$$p $(DESTDIR)$(PREFIX)/bin/; done

clean:
	rm -rf build $(BIN)
