/* recipient_map.h — source → target recipients for the engine (private to cpuu/).
 *
 * Features meet recipients as SMTP addresses (SMTP routing), legacyExchangeDNs
 * / X500 DNs (EX routing, Address Book EntryIDs).  The map answers, for any of
 * those keys, the target's primary SMTP address and legacyExchangeDN.
 * Resolution is batched (DESIGN.md performance model): a feature collects all
 * keys it met, calls rmap_resolve once, then looks each up; the source
 * directory is asked with many keys per LDAP filter (ldapdir_resolve), the
 * target's legacyExchangeDN comes from the target directory the same way
 * and, for what it does not hold (or without one), from batched SOAP
 * Autodiscover GetUserSettings or ResolveNames on the target.  A key is
 * resolved at most once per run (cache).
 *
 * Ownership: rmap_new → rmap_free.  Strings returned by rmap_lookup are owned
 * by the map and valid until rmap_free. */
#ifndef CPUU_RECIPIENT_MAP_H
#define CPUU_RECIPIENT_MAP_H

#include "ldap/ldap_dir.h"
#include "mapi/mapi.h"
#include "util/util.h"

#include <stddef.h>

typedef struct rmap rmap;
struct mapi_graph;   /* mapi/graph.h: only the Graph path needs its jansson API */

typedef enum {
    RMAP_MAPPED = 0,     /* source recipient with a target */
    RMAP_NOT_MIGRATED,   /* known source recipient without a target: keep the reference */
    RMAP_UNKNOWN,        /* not a recipient of the source organisation (external): keep */
    RMAP_AMBIGUOUS,      /* several source objects: keep, and report */
    RMAP_ERROR           /* lookup failed (directory down ...): the feature fails */
} rmap_status;

typedef struct rmap_target {
    const char *smtp;        /* target primary SMTP */
    const char *legacy_dn;   /* target legacyExchangeDN (may be NULL when unknown) */
    const char *display_name;
} rmap_target;

/* src_dir: the source directory (borrowed, may be NULL: then only rmap_add
 * pairs and tgt ResolveNames are used); tgt_dir: target directory (borrowed,
 * may be NULL); tgt: a target mailbox session for ResolveNames (borrowed, may
 * be NULL). */
rmap *rmap_new(ldapdir *src_dir, ldapdir *tgt_dir, mapi_session *tgt, sr_err *err);
void rmap_free(rmap *m);
/* Directories opened on first need instead of given to rmap_new: open is
 * called once, by the first rmap_resolve* that has a key left to ask, and
 * fills *src / *tgt (either may stay NULL: none configured).  A map whose
 * keys are all known (rmap_add) or that is never asked opens nothing, so an
 * engine run whose features look nothing up makes no LDAP connection (issue
 * 13 goal 4: a StartTLS bind is ~16 M instructions).  An error from open
 * fails that resolve and every later one with the same error. */
typedef sr_code (*rmap_dirs_open)(void *arg, ldapdir **src, ldapdir **tgt, sr_err *err);
void rmap_set_dirs(rmap *m, rmap_dirs_open open, void *arg);
/* A known pair (from [TargetMailboxesSMTP], a switch message, a test).
 * A NULL or empty src_key is a no-op (SR_OK); an empty tgt_smtp is SR_E_INVALID. */
sr_code rmap_add(rmap *m, const char *src_key, const char *tgt_smtp, const char *tgt_legacy_dn,
                 sr_err *err);
/* Resolve n keys (SMTP, "smtp:..." / "SMTP:...", "X500:/o=...", "/o=..." DNs),
 * skipping those already known, in as few directory searches as the batch
 * size allows. */
sr_code rmap_resolve(rmap *m, const char *const *keys, size_t n, sr_err *err);
/* Status of one key (after rmap_resolve); *t filled when RMAP_MAPPED. */
rmap_status rmap_lookup(rmap *m, const char *key, rmap_target *t);
const char *rmap_status_name(rmap_status s);
/* Directory searches + EWS calls this map made (for the performance tests). */
unsigned rmap_lookups_made(const rmap *m);

/* ---- additions (cpuu features helper) ---------------------------------- */
/* The source primary SMTP address of a key the source directory knows
 * (whatever its status: a not-migrated recipient stays reachable by SMTP);
 * owned by the map, NULL when unknown.  Valid after rmap_resolve. */
const char *rmap_source_smtp(rmap *m, const char *key);
/* Resolve keys that already belong to the TARGET organisation (what the
 * target mailbox itself holds, e.g. the EX legacyExchangeDNs GetInboxRules
 * answers) to their target primary SMTP: the target directory when given,
 * else one concurrent ResolveNames batch on the target session.  Cached;
 * counted in rmap_lookups_made.  Without either source: no-op. */
sr_code rmap_resolve_target(rmap *m, const char *const *keys, size_t n, sr_err *err);
/* rmap_resolve(keys) and rmap_resolve_target(tkeys) at once: the target
 * side's ResolveNames for both go out in ONE concurrent batch. */
sr_code rmap_resolve_both(rmap *m, const char *const *keys, size_t n, const char *const *tkeys,
                          size_t nt, sr_err *err);
/* rmap_resolve_target for those of keys (after rmap_resolve) that the
 * source side left UNKNOWN: EX addresses a target mailbox holds that may
 * already be the target organisation's (switched by an earlier run).  Costs
 * a target round trip only when there is such a key. */
sr_code rmap_resolve_target_unknown(rmap *m, const char *const *keys, size_t n, sr_err *err);
/* An Office 365 target over Microsoft Graph (borrowed; the map was made
 * without a target session): the target steps ask Graph's users by proxy
 * address ($batch) instead of EWS.  NULL turns that off. */
void rmap_set_graph(rmap *m, struct mapi_graph *g);
/* Target primary SMTP of a target-organisation key (after
 * rmap_resolve_target); owned by the map, NULL when unknown. */
const char *rmap_target_smtp_of(rmap *m, const char *key);

#endif
