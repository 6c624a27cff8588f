/* directory.c — the directories of the recipient map, named by the parent
 * in the environment (CPUU.ini has no directory parameters): the source
 * ([AD], CPUU_SOURCE_DC*) and, ours, the target ([TargetAD], CPUU_TARGET_DC*).
 * Both are read by the same code, so the two cannot drift apart: for a
 * prefix P, P (DCName), P_ACCOUNT, P_PASSWORD (the stored, encrypted form:
 * the plain password never crosses exec), P_CA_FILE, P_BASE,
 * P_MAPPING_ATTR and P_ALLOW_PLAIN (test labs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuu/engine.h"

static const char *env_of(const char *prefix, const char *suffix)
{
    char name[64];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* P_PASSWORD decrypted again, for a reconnect (the directory handle keeps
 * no password); arg is the prefix, a string literal. */
static sr_code dc_password(void *arg, char **out, sr_err *err)
{
    const char *prefix = arg;
    *out = NULL;
    const char *stored = env_of(prefix, "_PASSWORD");
    if (stored && cfg_secret_decrypt(stored, out, err) != SR_OK) {
        sr_err_prefix(err, "%s_PASSWORD: ", prefix);
        return err->code;
    }
    return SR_OK;
}

/* The directory named by the environment under prefix (CPUU_SOURCE_DC_ENV
 * or CPUU_TARGET_DC_ENV), connected on the first call.  NULL with err clear
 * when prefix is not set; NULL with err set when it cannot be used (then
 * every later call gives the same error). */
static ldapdir *dir_get(cpuu_dir *d, const char *prefix, sr_err *err)
{
    const char *dc = env_of(prefix, "");
    sr_err_clear(err);
    if (!dc || d->dir)
        return d->dir;
    if (d->tried) {   /* failed before: every profile of this run fails the same way */
        *err = d->err;
        return NULL;
    }
    d->tried = 1;
    char *password = NULL;
    if (dc_password((void *)prefix, &password, err) != SR_OK) {
        d->err = *err;
        return NULL;
    }
    const char *account = env_of(prefix, "_ACCOUNT"), *plain = env_of(prefix, "_ALLOW_PLAIN");
    ldapdir_opts o = {
        .dc = dc,
        .account = account,
        .password = password,
        .bind = account ? LDAPDIR_BIND_SIMPLE : LDAPDIR_BIND_GSSAPI,
        .allow_plain = plain && !strcmp(plain, "1"),
        .ca_file = env_of(prefix, "_CA_FILE"),
        .base = env_of(prefix, "_BASE"),
        .mapping_attr = env_of(prefix, "_MAPPING_ATTR"),
        /* a DC restarting mid-run: the same bounded reconnect as switchresmb's
         * (issue 11), for the connect and for every recipient-map lookup */
        .reconnects = LDAPDIR_RECONNECTS,
        .password_again = dc_password,
        .password_arg = (void *)prefix,
    };
    sr_code rc = ldapdir_connect(&o, &d->dir, err);
    sr_secret_free(password);
    if (rc != SR_OK) {
        d->dir = NULL;
        d->err = *err;
        return NULL;
    }
    return d->dir;
}

void cpuu_dir_free(cpuu_dir *d)
{
    ldapdir_free(d->dir);
    memset(d, 0, sizeof *d);
}

sr_code cpuu_dirs_open(void *arg, ldapdir **src, ldapdir **tgt, sr_err *err)
{
    static const char *const prefix[2] = { CPUU_SOURCE_DC_ENV, CPUU_TARGET_DC_ENV };
    cpuu_dirs_req *q = arg;
    cpuu_dir *d[2] = { &q->r->src_dir, &q->r->tgt_dir };
    ldapdir **out[2] = { src, tgt };
    sr_err_clear(err);
    /* Both directories bind simple: libldap's SASL start need not load the
     * SASL plugins, a third of the engine's directory cost (ldap_dir.h). */
    if ((!env_of(prefix[0], "") || env_of(prefix[0], "_ACCOUNT")) &&
        (!env_of(prefix[1], "") || env_of(prefix[1], "_ACCOUNT")))
        ldapdir_no_sasl_plugins();
    for (int i = 0; i < 2; i++) {
        int fresh = !d[i]->tried;
        *out[i] = dir_get(d[i], prefix[i], err);
        if (!*out[i] && err->code != SR_OK) {
            sr_log(SR_LOG_ERROR, q->who, "%s directory %s: %s", i ? "target" : "source",
                   getenv(prefix[i]), err->msg);
            sr_err_prefix(err, "%s directory %s: ", i ? "target" : "source", getenv(prefix[i]));
            q->failed = 1;
            return err->code;
        }
        if (*out[i] && fresh)
            sr_log(SR_LOG_INFO, "cpuu", "%s directory %s for the recipient map",
                   i ? "target" : "source", getenv(prefix[i]));
    }
    return SR_OK;
}
