# tests/fuzz/: one libFuzzer harness per parser of untrusted input (see
# tests/fuzz/README.md).  Each harness fuzz_<h>.c is built twice:
#   fuzzreplay_<h>  normal compiler + replay.c: replays the corpora and past
#                   findings under `make test` (tests/integration/fuzz_replay.sh)
#   fuzz_<h>        clang -fsanitize=fuzzer,address,undefined under `make fuzz`
FUZZ_HARNESSES := resmb_ini cpuu_ini cmdline pox ews eid nicks profile secret graph
fuzz_h_USES_resmb_ini := configs util
fuzz_h_USES_cpuu_ini  := configs util
fuzz_h_USES_cmdline   := configs util
fuzz_h_USES_pox       := mapi util
fuzz_h_USES_ews       := mapi util
fuzz_h_USES_eid       := mapi util
fuzz_h_USES_nicks     := cpuu_core mapi ldap configs util
fuzz_h_USES_profile   := mapi util
fuzz_h_USES_secret    := configs util
fuzz_h_USES_graph     := mapi util

define FUZZ_HARNESS_template
TEST_TOOLS += fuzzreplay_$(1)
fuzzreplay_$(1)_SRCS := tests/fuzz/fuzz_$(1).c tests/fuzz/fuzz_common.c tests/fuzz/replay.c
fuzzreplay_$(1)_USES := $(fuzz_h_USES_$(1))
fuzzreplay_$(1)_LDLIBS :=
FUZZERS += fuzz_$(1)
fuzz_$(1)_SRCS := tests/fuzz/fuzz_$(1).c tests/fuzz/fuzz_common.c
fuzz_$(1)_USES := $(fuzz_h_USES_$(1))
fuzz_$(1)_LDLIBS :=
endef
FUZZERS :=
$(foreach h,$(FUZZ_HARNESSES),$(eval $(call FUZZ_HARNESS_template,$(h))))
