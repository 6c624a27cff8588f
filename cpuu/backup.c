/* backup.c — per-profile feature backups: one file per (feature, name),
 * and the release of what features cache in the context. */
#include "cpuu/feature.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Feature and name become one file name; refuse anything that could leave
 * the backup directory. */
static char *backup_path(const cpuu_ctx *c, const char *feature, const char *name, sr_err *err)
{
    for (const char *s = name; *s; s++)
        if (*s == '/' || (unsigned char)*s < 0x20) {
            sr_err_set(err, SR_E_INVALID, "%s: backup name '%s' is not a plain file name",
                       c->who, name);
            return NULL;
        }
    if (!c->backup_dir || !*feature || !*name || name[0] == '.') {
        sr_err_set(err, SR_E_INVALID, "%s: no backup directory or empty backup name", c->who);
        return NULL;
    }
    char *p = sr_asprintf("%s/%s.%s", c->backup_dir, feature, name);
    if (!p)
        sr_err_set(err, SR_E_NOMEM, "out of memory");
    return p;
}

sr_code cpuu_backup_put(const cpuu_ctx *c, const char *feature, const char *name,
                        const void *data, size_t len, sr_err *err)
{
    if (sr_mkdir_p(c->backup_dir, 0700, err) != SR_OK)
        return err->code;
    char *p = backup_path(c, feature, name, err);
    if (!p)
        return err->code;
    sr_code rc = sr_write_file_atomic(p, data, len, 0600, 0, err);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: backup of %s: ", c->who, feature);
    free(p);
    return rc;
}

sr_code cpuu_backup_get(const cpuu_ctx *c, const char *feature, const char *name,
                        char **data, size_t *len, sr_err *err)
{
    char *p = backup_path(c, feature, name, err);
    if (!p)
        return err->code;
    *data = sr_read_file(p, 64u * 1024u * 1024u, len, err);
    free(p);
    if (!*data) {
        sr_err_prefix(err, "%s: backup of %s: ", c->who, feature);
        return err->code;
    }
    return SR_OK;
}

int cpuu_backup_exists(const cpuu_ctx *c, const char *feature, const char *name)
{
    char *old = NULL;
    size_t len = 0;
    sr_err e = {0};
    if (cpuu_backup_get(c, feature, name, &old, &len, &e) != SR_OK)
        return 0;
    free(old);
    return 1;
}

/* The failure of cpuu_backup_get_xml: err prefixed with who and feature. */
static sr_code xml_backup_fail(const cpuu_ctx *c, const char *feature, xmlDocPtr doc,
                               int wrong_root, const char *what, sr_err *err)
{
    xmlFreeDoc(doc);
    if (wrong_root)
        sr_err_set(err, SR_E_PARSE, "not a %s backup", what);
    sr_err_prefix(err, "%s: %s: ", c->who, feature);
    return err->code ? err->code : SR_E_PARSE;
}

sr_code cpuu_backup_get_xml(const cpuu_ctx *c, const char *feature, const char *name,
                            const char *what, const char *root_name, xmlDocPtr *doc, sr_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    *doc = NULL;
    sr_code rc = cpuu_backup_get(c, feature, name, &buf, &len, err);
    if (rc != SR_OK)
        return rc;
    char label[96];
    snprintf(label, sizeof label, "%s backup", what);
    xmlDocPtr d = mapi_xml_parse(buf, len, label, err);
    free(buf);
    xmlNodePtr root = d ? xmlDocGetRootElement(d) : NULL;
    if (!d || (root_name && (!root || xmlStrcmp(root->name, BAD_CAST root_name) != 0)))
        return xml_backup_fail(c, feature, d, root != NULL, what, err);
    *doc = d;
    return SR_OK;
}

void cpuu_ctx_release(cpuu_ctx *c)
{
    if (!c)
        return;
    free(c->src_common_views);
    free(c->tgt_common_views);
    c->src_common_views = c->tgt_common_views = NULL;
}
