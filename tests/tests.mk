# tests/tests.mk — the one list of tests.  tests/run_tests.sh runs exactly
# what is listed here, in this order; nothing is found by globbing.
#
# Adding a test is one line:
#   a CUnit binary:   $(call cunit, NAME, SOURCES, USES, EXTRA_LIBS)
#                     built to $(BUILD)/tests/NAME; USES = our modules, dependents
#                     first; -lcunit is added for you.
#   a script:         TEST_SCRIPTS += tests/integration/NAME.sh
#                     run with bash; it ends with "N passed, N failed".
# A case that cannot run prints "SKIP: what: why" (a CUnit test: tu_skip) or,
# when it does not apply to the lab at hand, "N/A: what: why" (tu_na); a script
# does not count it as passed.  tests/run_tests.sh counts both as skipped, and
# `make test` (CI) counts every SKIP as a failure.
# A listed file that does not exist, or a tests/*/test_*.c, tests/integration/*.sh
# or tests/e2e/*.sh that is not listed, stops `make tests` (check-tests)
# with its name: a test cannot vanish or be forgotten silently.

# a comma inside a $(call cunit, ...) argument (test_util's -Wl,--wrap=fsync)
comma := ,
XML_LIBS := $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2)
# The Exchange simulator's store half, linked without its server half (main.c,
# http.c, soap.c): test_exsim_store carries stand-ins for the soap.c helpers.
EXSIM_STORE_SRCS := $(sort $(wildcard tests/exsim/store*.c tests/exsim/ids.c tests/exsim/ews_*.c))

# ---- unit: no server -------------------------------------------------------------
#            name                 sources                                   uses                                          extra libs
$(call cunit,test_util,           tests/unit/test_util.c,                   util,                                         -Wl$(comma)--wrap=fsync)
$(call cunit,test_testutil,       tests/unit/test_testutil.c,               testutil util,)
$(call cunit,test_configs,        tests/unit/test_configs.c,                configs testutil util,)
$(call cunit,test_configs_files,  tests/unit/test_configs_files.c,          configs testutil util,                        -lacl)
$(call cunit,test_statemachine,   tests/unit/test_statemachine.c,           statemachine util,)
$(call cunit,test_cpuu_invoke,    tests/unit/test_cpuu_invoke.c,            cpuu_invoke util,)
$(call cunit,test_mapi_store,     tests/unit/test_mapi_store.c,             mapi util,)
$(call cunit,test_mapi_ewsreq,    tests/unit/test_mapi_ewsreq.c,            mapi testutil util,                           -lpthread)
# test_mapi_budget: the per-account request budget across processes (SEM_UNDO on SIGKILL).
$(call cunit,test_mapi_budget,    tests/unit/test_mapi_budget.c,            mapi util,)
$(call cunit,test_mapi_graph,     tests/unit/test_mapi_graph.c,             mapi configs util,)
# test_ldap_nosasl: a process of simple binds starts SASL without its plugins (engine start-up cost).
$(call cunit,test_ldap_nosasl,    tests/unit/test_ldap_nosasl.c,            ldap testutil util,)
$(call cunit,test_feature_built,  tests/unit/test_feature_built.c,          cpuu_core mapi ldap configs util,)
$(call cunit,test_nicks_stream,   tests/unit/test_nicks_stream.c,           cpuu_core mapi ldap configs util,)
# test_cpuu_graph_conv: EWS feature data → Graph JSON, every name checked against the v1.0 CSDL.
$(call cunit,test_cpuu_graph_conv, tests/unit/test_cpuu_graph_conv.c,       cpuu_core mapi ldap configs testutil util,)
# test_cpuu_graph_search: search-folder restrictions → mailSearchFolder filterQuery, case by case.
$(call cunit,test_cpuu_graph_search, tests/unit/test_cpuu_graph_search.c,   cpuu_core mapi ldap configs testutil util,)

# ---- the Exchange simulator ------------------------------------------------------
$(call cunit,test_exsim,          tests/exsim/test/test_exsim.c,            testutil util,                                -lcurl $(XML_LIBS))
# test_exsim_graph: Microsoft Graph over the same store (issue 17 §4): JWT roles, users,
# messageRules, calendarPermissions, mailboxSettings, $batch, 429.
$(call cunit,test_exsim_graph,    tests/exsim/test/test_exsim_graph.c,      testutil util,                                -lcurl -ljansson -lcrypto)
$(call cunit,test_exsim_store,    tests/exsim/test/test_exsim_store.c $(EXSIM_STORE_SRCS), testutil util,                 $(XML_LIBS))

# ---- integration: against real servers started by the test (exsim, slapd, Samba) -
# test_ldap: the slapd lab by default, LAB_SCRIPT=tests/lab/samba-lab.sh for the
# Samba AD DC; also the resolve benchmark (test_ldap --bench N).
$(call cunit,test_ldap,           tests/integration/test_ldap.c,            ldap testutil util,                           -lpthread)
# test_ldap_ad: what only a real AD shows, against one Samba AD DC (2,500 rooms).
$(call cunit,test_ldap_ad,        tests/integration/test_ldap_ad.c,         ldap testutil util,)
$(call cunit,test_mapi_ews,       tests/integration/test_mapi_ews.c,        mapi testutil util,)
# test_mapi_oauth: the OAuth2 app-only client against glewlwyd, the Entra ID
# stand-in of $SHARED_DIR/labs/oauth-entra-standin.md, started by the test.
$(call cunit,test_mapi_oauth,     tests/integration/test_mapi_oauth.c,      mapi testutil util,)
# test_mapi_graph_fake: the Graph client against tests/py/graph_fake.py (Microsoft's
# documented shapes): token, errors, paging, $batch, 429 retries, 4 per mailbox.
$(call cunit,test_mapi_graph_fake, tests/integration/test_mapi_graph_fake.c, mapi testutil util,                    -lcurl)
$(call cunit,test_cpuu_engine,    tests/integration/test_cpuu_engine.c,     cpuu_core cpuu_invoke mapi ldap configs testutil util,)
$(call cunit,test_cpuu_features,  tests/integration/test_cpuu_features.c,   cpuu_core mapi ldap configs testutil util,)
$(call cunit,test_cpuu_notify,    tests/integration/test_cpuu_notify.c,     cpuu_core mapi ldap configs testutil util,)
$(call cunit,test_resmb_pipeline, tests/integration/test_resmb_pipeline.c,  mapi configs testutil util,-ljansson)

TEST_SCRIPTS += tests/integration/exsim_interop.sh
# seedgen_big: seedgen.py --big-rooms (the benches' large room) is exact and changes nothing else.
TEST_SCRIPTS += tests/integration/seedgen_big.sh
# exsim_logon: every logon the simulator accepts (NTLM, Negotiate, Bearer JWT) and refuses,
# against the Samba AD DC (Kerberos, NT hashes) and glewlwyd (tokens) it starts.
TEST_SCRIPTS += tests/integration/exsim_logon.sh
# logon_e2e: switchresmb → cpuu logging on with Kerberos, NTLM and OAuth2 (issue 9),
# the refusals' exit codes and messages, and no secret in any log.
TEST_SCRIPTS += tests/integration/logon_e2e.sh
TEST_SCRIPTS += tests/integration/ldap_samba.sh
# features_e2e: issues 12 and 16 end to end: switchresmb → cpuu with SearchFolders,
# ContactMembers, Nicks, Booking, Calendar links and RemoveJunkEmailMessages=1; the target
# item by item against /_sim/state, rollback byte-identical, a second run writes nothing.
TEST_SCRIPTS += tests/integration/features_e2e.sh
# graph_e2e: issue 17 end to end: switchresmb → cpuu, on-premises source over EWS, Office 365
# target over the simulator's Microsoft Graph (ProtocolTrg=Graph, and Auto with EWS blocked):
# rules and delegates item by item, no EWS on the target, rollback byte-identical, idempotent.
TEST_SCRIPTS += tests/integration/graph_e2e.sh
# round_trips: issue 13's per-mailbox dependent round trips (simulator counters), every
# feature on, for a small and a big room (seedgen --big-room): bound per side, big = small.
TEST_SCRIPTS += tests/integration/round_trips.sh
# budget_e2e: issue 13: one request budget per Exchange account for switchresmb and all its
# engines: the simulators never see more than the limit in flight, nothing is throttled,
# and an engine killed by SIGKILL does not shrink the budget.
TEST_SCRIPTS += tests/integration/budget_e2e.sh
TEST_SCRIPTS += tests/integration/resmb_cli.sh
# resmb_graph_check: --check probes Graph once for an Office 365 target (issue 17 §2)
# against tests/py/graph_fake.py: OK, no token, 403 with the permissions, unknown mailbox.
TEST_SCRIPTS += tests/integration/resmb_graph_check.sh
# unused_symbols: every public function of a module archive has a caller outside tests/.
TEST_SCRIPTS += tests/integration/unused_symbols.sh
TEST_SCRIPTS += tests/integration/sigpipe.sh
TEST_SCRIPTS += tests/integration/fuzz_replay.sh
TEST_SCRIPTS += tests/integration/cpuu_config.sh
TEST_SCRIPTS += tests/integration/cpuu_config_lab.sh
TEST_SCRIPTS += tests/integration/cpuu_watchdog.sh
TEST_SCRIPTS += tests/integration/man_pages.sh
TEST_SCRIPTS += tests/integration/systemd_units.sh
TEST_SCRIPTS += tests/integration/install.sh
TEST_SCRIPTS += tests/integration/report_html.sh
TEST_SCRIPTS += tests/integration/readme_quickstart.sh
# test_runner: tests/run_tests.sh and summarize.sh count skips and missing tests.
TEST_SCRIPTS += tests/integration/test_runner.sh
