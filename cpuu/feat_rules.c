/* feat_rules.c — the Rules feature: the source mailbox's ENABLED inbox rules,
 * with every recipient and folder reference mapped, written to the target
 * mailbox (docs/features.md).
 *
 * read:    GetInboxRules on the source and on the target.
 * plan:    one rmap_resolve for every address in the enabled rules (and one
 *          rmap_resolve_target for the target rules' EX addresses, so both
 *          sides compare in target SMTP terms); folders are mapped by PATH
 *          (source id → source path → target id), never by copying ids.
 *          A source rule's copy on the target is the target rule with the
 *          same DisplayName (the n-th of that name for the n-th source rule
 *          of that name): equal content → nothing to do, else Set; none →
 *          Create.  The target's own rules are never touched.
 * backup:  the target's GetInboxRulesResponse (the first run's is kept).
 * apply:   ONE UpdateInboxRules with every Create/Set operation.
 * restore: ONE UpdateInboxRules putting the saved rules back (Delete the
 *          rules not in the backup, Set changed ones, Create missing ones). */
#include "cpuu/ews_feat.h"
#include "cpuu/feature.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FEATURE "Rules"
#define BACKUP_NAME "target.xml"

typedef struct rules {
    xmlDocPtr doc;
    xmlNodePtr op;
    xmlNodePtr *v;
    size_t n;
    int blob;                   /* OutlookRuleBlobExists */
} rules;

/* Source RuleId → target RuleId of its copy, kept beside the backup
 * (Rules.idmap.tsv) so a copy renamed on the target is still found. */
typedef struct idmap {
    char **src, **tgt;
    size_t n;
    int dirty;
} idmap;

/* A copy planned for creation: its id is learned after the write. */
typedef struct created {
    char *src_id, *name;
    int nth;
} created;

typedef struct rstate {
    rules src, tgt;
    xmlDocPtr work;             /* mapped copies of the source rules */
    ewsf_rule_op *ops;
    size_t nops;
    int remove_blob;
    idmap map;
    created *made;
    size_t nmade;
    int written;                /* apply's UpdateInboxRules all answered (writes_done) */
    int said_transient;         /* the ids-not-read-back line is logged (apply runs again
                                 * in write waves) */
} rstate;

#define IDMAP_NAME "idmap.tsv"

static void rules_clear(rules *r)
{
    xmlFreeDoc(r->doc);
    free(r->v);
    memset(r, 0, sizeof *r);
}

static void idmap_clear(idmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->src[i]);
        free(m->tgt[i]);
    }
    free(m->src);
    free(m->tgt);
    memset(m, 0, sizeof *m);
}

static void made_clear(rstate *s)
{
    for (size_t i = 0; i < s->nmade; i++) {
        free(s->made[i].src_id);
        free(s->made[i].name);
    }
    free(s->made);
    s->made = NULL;
    s->nmade = 0;
}

static void rstate_free(void *v)
{
    rstate *s = v;
    if (!s)
        return;
    rules_clear(&s->src);
    rules_clear(&s->tgt);
    xmlFreeDoc(s->work);
    free(s->ops);
    idmap_clear(&s->map);
    made_clear(s);
    free(s);
}

static const char *idmap_get(const idmap *m, const char *src)
{
    for (size_t i = 0; src && i < m->n; i++)
        if (strcmp(m->src[i], src) == 0)
            return m->tgt[i];
    return NULL;
}

/* Record src → tgt (ids with tabs or newlines cannot be stored: skipped). */
static void idmap_set(idmap *m, const char *src, const char *tgt)
{
    if (!src || !tgt || strpbrk(src, "\t\n") || strpbrk(tgt, "\t\n"))
        return;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->src[i], src) == 0) {
            if (strcmp(m->tgt[i], tgt) != 0) {
                char *d = sr_strdup(tgt);
                if (d) {
                    free(m->tgt[i]);
                    m->tgt[i] = d;
                    m->dirty = 1;
                }
            }
            return;
        }
    char **ns = realloc(m->src, (m->n + 1) * sizeof *ns);
    if (ns)
        m->src = ns;
    char **nt = ns ? realloc(m->tgt, (m->n + 1) * sizeof *nt) : NULL;
    if (nt)
        m->tgt = nt;
    char *a = nt ? sr_strdup(src) : NULL, *b = a ? sr_strdup(tgt) : NULL;
    if (!b) {
        free(a);
        return;
    }
    m->src[m->n] = a;
    m->tgt[m->n++] = b;
    m->dirty = 1;
}

static void idmap_load(cpuu_ctx *c, idmap *m)
{
    char *buf = NULL;
    size_t len = 0;
    sr_err e = {0};
    if (cpuu_backup_get(c, FEATURE, IDMAP_NAME, &buf, &len, &e) != SR_OK)
        return;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *tab = strchr(line, '\t');
        if (tab) {
            *tab = '\0';
            idmap_set(m, line, tab + 1);
        }
    }
    m->dirty = 0;
    free(buf);
}

static sr_code idmap_save(cpuu_ctx *c, idmap *m, sr_err *err)
{
    if (!m->dirty || c->dry_run)
        return SR_OK;
    size_t len = 0;
    for (size_t i = 0; i < m->n; i++)
        len += strlen(m->src[i]) + strlen(m->tgt[i]) + 2;
    char *buf = malloc(len + 1), *p = buf;
    if (!buf)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < m->n; i++)
        p += sprintf(p, "%s\t%s\n", m->src[i], m->tgt[i]);
    sr_code rc = cpuu_backup_put(c, FEATURE, IDMAP_NAME, buf, len, err);
    free(buf);
    if (rc == SR_OK)
        m->dirty = 0;
    return rc;
}

static sr_code get_rules(cpuu_ctx *c, mapi_session *s, rules *out, sr_err *err)
{
    mapi_ews_target t = mapi_session_target(s);
    mapi_ews_call call = {.idempotent = 1};
    call.req = ewsf_req_getinboxrules(&t, mapi_session_mailbox(s), err);
    if (!call.req)
        return err->code;
    sr_code rc = mapi_session_run(s, &call, 1, err);
    if (rc == SR_OK)
        rc = ewsf_parse_getinboxrules(call.resp_op, &out->v, &out->n, &out->blob, err);
    xmlFreeDoc(call.req);
    out->doc = call.resp;
    out->op = call.resp_op;
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: GetInboxRules on %s: ", c->who, FEATURE, mapi_session_mailbox(s));
    return rc;
}

static sr_code r_read(cpuu_ctx *c, void **state, feature_stats *st, sr_err *err)
{
    rstate *s = calloc(1, sizeof *s);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    *state = s;
    sr_code rc = get_rules(c, c->tgt, &s->tgt, err);
    sr_err e2;   /* the source's own failure after the target's */
    if (cpuu_read_on(rc) && c->src != c->tgt) {
        rc = cpuu_read_both(rc, get_rules(c, c->src, &s->src, rc == SR_OK ? err : &e2));
    } else if (rc == SR_OK) {
        /* updated in place: the one mailbox is both sides, read once */
        s->src.doc = xmlNewDoc(BAD_CAST "1.0");
        xmlNodePtr op = s->src.doc ? xmlDocCopyNode(s->tgt.op, s->src.doc, 1) : NULL;
        if (op) {
            xmlDocSetRootElement(s->src.doc, op);
            xmlReconciliateNs(s->src.doc, op);
        }
        s->src.op = op;
        rc = op ? ewsf_parse_getinboxrules(op, &s->src.v, &s->src.n, &s->src.blob, err)
                : sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    st->seen = (unsigned)s->src.n;
    idmap_load(c, &s->map);
    return rc;
}

/* ---- small accessors ---- */
static char *text_of(xmlNodePtr rule, const char *name)
{
    return mapi_xml_child_text(rule, EWSF_NS_T, name);
}

static int flag(xmlNodePtr rule, const char *name)
{
    char *v = text_of(rule, name);
    int on = v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
    free(v);
    return on;
}

static void set_child_text(xmlNodePtr parent, const char *name, const char *text)
{
    xmlNodePtr n = mapi_xml_child(parent, EWSF_NS_T, name);
    if (n) {
        xmlNodeSetContent(n, NULL);
        xmlNodeAddContent(n, BAD_CAST text);   /* escaped as text */
    } else {
        xmlNewTextChild(parent, parent->ns, BAD_CAST name, BAD_CAST text);
    }
}

/* Visit every t:Address under the rule's Conditions, Exceptions, Actions. */
typedef int (*addr_fn)(void *ctx, xmlNodePtr addr);

static int each_address(xmlNodePtr rule, addr_fn fn, void *ctx)
{
    static const char *const parts[] = {"Conditions", "Exceptions", "Actions", NULL};
    for (int p = 0; parts[p]; p++) {
        xmlNodePtr part = mapi_xml_child(rule, EWSF_NS_T, parts[p]);
        for (xmlNodePtr list = part ? part->children : NULL; list; list = list->next)
            for (xmlNodePtr a = mapi_xml_child(list, EWSF_NS_T, "Address"); a;
                 a = mapi_xml_next(a, EWSF_NS_T, "Address"))
                if (fn(ctx, a) != 0)
                    return -1;
    }
    return 0;
}

/* Routing of an address: EX, SMTP, or something else (MOBILE for SMS). */
static char *routing_of(xmlNodePtr a, const char *email)
{
    char *rt = mapi_xml_child_text(a, EWSF_NS_T, "RoutingType");
    if (rt)
        return rt;
    return sr_strdup(email && email[0] == '/' ? "EX" : "SMTP");
}

/* ---- collecting keys ---- */
typedef struct keys {
    char **v;
    size_t n, cap;
    int ex_only;
} keys;

static int collect_key(void *ctx, xmlNodePtr a)
{
    keys *k = ctx;
    char *email = mapi_xml_child_text(a, EWSF_NS_T, "EmailAddress");
    char *rt = routing_of(a, email);
    int want = email && *email && (strcmp(rt, "EX") == 0 || (!k->ex_only && strcmp(rt, "SMTP") == 0));
    free(rt);
    if (!want) {
        free(email);
        return 0;
    }
    if (k->n == k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 32;
        char **nv = realloc(k->v, nc * sizeof *nv);
        if (!nv) {
            free(email);
            return -1;
        }
        k->v = nv;
        k->cap = nc;
    }
    k->v[k->n++] = email;
    return 0;
}

static void keys_clear(keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    memset(k, 0, sizeof *k);
}

static int processed(xmlNodePtr rule)
{
    return flag(rule, "IsEnabled") && !flag(rule, "IsNotSupported");
}

/* ---- canonical form (idempotency) ---- */
typedef struct cbuf {
    char *p;
    size_t n, cap;
    int fail;
} cbuf;

static void cput(cbuf *b, const char *s)
{
    size_t l = strlen(s);
    if (b->fail)
        return;
    if (b->n + l + 1 > b->cap) {
        size_t nc = (b->n + l + 1) * 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->fail = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, l + 1);
    b->n += l;
}

/* An address as the identity of its recipient: target SMTP when the map
 * knows the target key, else the address itself, lower case.  Name and
 * routing are presentation: Exchange answers known SMTP as EX. */
static void canon_address(cbuf *b, rmap *map, xmlNodePtr a)
{
    char *email = mapi_xml_child_text(a, EWSF_NS_T, "EmailAddress");
    const char *id = email ? email : "";
    const char *t = map && email ? rmap_target_smtp_of(map, email) : NULL;
    if (t)
        id = t;
    cput(b, "<addr:");
    for (const char *s = id; *s; s++) {
        char ch[2] = {(char)tolower((unsigned char)*s), 0};
        cput(b, ch);
    }
    cput(b, ">");
    free(email);
}

static void canon_node(cbuf *b, rmap *map, xmlNodePtr n)
{
    if (strcmp((const char *)n->name, "Address") == 0) {
        canon_address(b, map, n);
        return;
    }
    cput(b, "<");
    cput(b, (const char *)n->name);
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        if (strcmp((const char *)a->name, "ChangeKey") == 0)   /* changes with every write */
            continue;
        xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
        cput(b, " ");
        cput(b, (const char *)a->name);
        cput(b, "=");
        cput(b, v ? (const char *)v : "");
        xmlFree(v);
    }
    cput(b, ">");
    int leaf = 1;
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) {
            leaf = 0;
            canon_node(b, map, c);
        }
    if (leaf) {
        xmlChar *v = xmlNodeGetContent(n);
        cput(b, v ? (const char *)v : "");
        xmlFree(v);
    }
    cput(b, "</>");
}

/* DisplayName, IsEnabled, Conditions, Exceptions, Actions — not RuleId,
 * Priority (the server renumbers), nor the read-only flags. */
static char *canon_rule(rmap *map, xmlNodePtr rule)
{
    static const char *const parts[] = {"DisplayName", "IsEnabled", "Conditions", "Exceptions",
                                        "Actions", NULL};
    cbuf b = {0};
    cput(&b, "");
    for (int i = 0; parts[i]; i++) {
        xmlNodePtr n = mapi_xml_child(rule, EWSF_NS_T, parts[i]);
        if (n)
            canon_node(&b, map, n);
    }
    if (b.fail) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static int same_rule(rmap *map, xmlNodePtr a, xmlNodePtr b)
{
    char *x = canon_rule(map, a), *y = canon_rule(map, b);
    int eq = x && y && strcmp(x, y) == 0;
    free(x);
    free(y);
    return eq;
}

/* ---- mapping one rule ---- */
typedef struct mapctx {
    cpuu_ctx *c;
    feature_stats *st;
    const char *rule_name;
    struct paths *src, *tgt;    /* folder paths of both trees */
    int bad;                    /* the rule cannot be written */
} mapctx;

static int map_address(void *ctx, xmlNodePtr a)
{
    mapctx *m = ctx;
    char *email = mapi_xml_child_text(a, EWSF_NS_T, "EmailAddress");
    char *rt = routing_of(a, email);
    int ex = strcmp(rt, "EX") == 0;
    if (!email || !*email || (!ex && strcmp(rt, "SMTP") != 0)) {   /* MOBILE etc.: as is */
        free(email);
        free(rt);
        return 0;
    }
    rmap_target t = {0};
    rmap_status st = rmap_lookup(m->c->map, email, &t);
    if (st == RMAP_MAPPED) {
        int use_ex = ex && t.legacy_dn;
        set_child_text(a, "EmailAddress", use_ex ? t.legacy_dn : t.smtp);
        set_child_text(a, "RoutingType", use_ex ? "EX" : "SMTP");
        if (t.display_name && mapi_xml_child(a, EWSF_NS_T, "Name"))
            set_child_text(a, "Name", t.display_name);
    } else if (st == RMAP_UNKNOWN && !ex) {
        /* an external SMTP address: nothing to map */
    } else if (st == RMAP_UNKNOWN && rmap_target_smtp_of(m->c->map, email)) {
        /* already a recipient of the target organisation (updated in place) */
    } else {
        const char *smtp = ex ? rmap_source_smtp(m->c->map, email) : NULL;
        m->st->unresolved++;
        if (ex && smtp) {
            /* the target refuses a source-org EX address; the source SMTP
             * address keeps mail flowing through the source org */
            set_child_text(a, "EmailAddress", smtp);
            set_child_text(a, "RoutingType", "SMTP");
        } else if (ex) {
            m->bad = 1;
        }
        sr_log(SR_LOG_WARN, m->c->who, "%s: rule '%s': recipient %s is %s in the target organisation%s",
               FEATURE, m->rule_name, email, rmap_status_name(st),
               ex && smtp ? ": kept as its source SMTP address" :
               ex ? ": no address the target accepts" : ": kept as it is");
    }
    free(email);
    free(rt);
    return 0;
}

/* Paths of every folder of a tree under msgfolderroot ("Inbox/Projects"),
 * computed once per plan: an id → index hash, then each path from its
 * parent's (memoised), so big trees cost O(n). */
typedef struct paths {
    const mapi_folders *f;
    size_t *idx, nidx;          /* 1 + folder index, 0 = empty */
    char **path;                /* per folder, NULL until computed */
} paths;

static size_t id_hash(const char *s)
{
    size_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

static long folder_index(const paths *p, const char *id)
{
    if (!id || !p->nidx)
        return -1;
    for (size_t i = id_hash(id) & (p->nidx - 1), k = 0; k < p->nidx; i = (i + 1) & (p->nidx - 1), k++) {
        if (!p->idx[i])
            return -1;
        if (strcmp(p->f->v[p->idx[i] - 1].id, id) == 0)
            return (long)(p->idx[i] - 1);
    }
    return -1;
}

static int paths_init(paths *p, const mapi_folders *f)
{
    memset(p, 0, sizeof *p);
    p->f = f;
    p->nidx = 16;
    while (p->nidx < f->n * 2 + 2)
        p->nidx *= 2;
    p->idx = calloc(p->nidx, sizeof *p->idx);
    p->path = calloc(f->n + 1, sizeof *p->path);
    if (!p->idx || !p->path)
        return -1;
    for (size_t e = 0; e < f->n; e++) {
        if (!f->v[e].id)
            continue;
        size_t i = id_hash(f->v[e].id) & (p->nidx - 1);
        while (p->idx[i])
            i = (i + 1) & (p->nidx - 1);
        p->idx[i] = e + 1;
    }
    return 0;
}

static void paths_free(paths *p)
{
    for (size_t i = 0; p->path && i < p->f->n; i++)
        free(p->path[i]);
    free(p->path);
    free(p->idx);
    memset(p, 0, sizeof *p);
}

/* Path of folder i; owned by p, NULL on OOM.  depth bounds a corrupt
 * (cyclic) parent chain. */
static const char *path_of(paths *p, long i, int depth)
{
    if (p->path[i] || depth > 256)
        return p->path[i];
    const mapi_folder *fo = &p->f->v[i];
    const char *name = fo->display_name ? fo->display_name : "";
    long up = folder_index(p, fo->parent_id);
    const char *pp = up >= 0 && up != i ? path_of(p, up, depth + 1) : NULL;
    p->path[i] = pp ? sr_asprintf("%s/%s", pp, name) : sr_strdup(name);
    return p->path[i];
}

static const char *folder_path(paths *p, const char *id)
{
    long i = folder_index(p, id);
    return i >= 0 ? path_of(p, i, 0) : NULL;
}

static const mapi_folder *folder_by_path(paths *p, const char *path)
{
    for (size_t i = 0; i < p->f->n; i++) {
        const char *x = p->f->v[i].id ? path_of(p, (long)i, 0) : NULL;
        if (x && strcmp(x, path) == 0)
            return &p->f->v[i];
    }
    return NULL;
}

static void map_folders(mapctx *m, xmlNodePtr rule)
{
    static const char *const acts[] = {"MoveToFolder", "CopyToFolder", NULL};
    xmlNodePtr actions = mapi_xml_child(rule, EWSF_NS_T, "Actions");
    for (int i = 0; acts[i]; i++) {
        xmlNodePtr fid = mapi_xml_child(mapi_xml_child(actions, EWSF_NS_T, acts[i]), EWSF_NS_T, "FolderId");
        if (!fid)
            continue;   /* DistinguishedFolderId: the same name is valid in the target */
        xmlChar *id = xmlGetProp(fid, BAD_CAST "Id");
        const char *path = id ? folder_path(m->src, (const char *)id) : NULL;
        const mapi_folder *t = path ? folder_by_path(m->tgt, path) : NULL;
        if (t) {
            xmlSetProp(fid, BAD_CAST "Id", BAD_CAST t->id);
            if (t->change_key)
                xmlSetProp(fid, BAD_CAST "ChangeKey", BAD_CAST t->change_key);
            else
                xmlUnsetProp(fid, BAD_CAST "ChangeKey");
        } else {
            m->bad = 1;
            sr_log(SR_LOG_WARN, m->c->who, "%s: rule '%s': %s folder %s has no counterpart in the "
                   "target mailbox (a PST folder or one not migrated): rule not written",
                   FEATURE, m->rule_name, acts[i], path ? path : "(not in the source mailbox)");
        }
        xmlFree(id);
    }
}

/* ---- plan ---- */
static sr_code add_op(rstate *s, ewsf_rule_op op, sr_err *err)
{
    ewsf_rule_op *nv = realloc(s->ops, (s->nops + 1) * sizeof *nv);
    if (!nv)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    s->ops = nv;
    s->ops[s->nops++] = op;
    return SR_OK;
}

static xmlNodePtr rule_by_id(const rules *r, const char *id);

/* The n-th target rule (n from 0) named name, or NULL. */
static xmlNodePtr target_copy(const rules *tgt, const char *name, int nth)
{
    for (size_t i = 0; i < tgt->n; i++) {
        char *dn = text_of(tgt->v[i], "DisplayName");
        int hit = dn && strcmp(dn, name) == 0 && nth-- == 0;
        free(dn);
        if (hit)
            return tgt->v[i];
    }
    return NULL;
}

/* Move k's strings into out (k is left empty). */
static sr_code keys_move(keys *k, cpuu_keys *out, sr_err *err)
{
    sr_code rc = SR_OK;
    for (size_t i = 0; i < k->n; i++)
        if (rc == SR_OK)
            rc = cpuu_keys_take(out, k->v[i], err);
        else
            free(k->v[i]);
    k->n = 0;
    return rc;
}

/* The keys resolve_all resolves, for the engine's one batch. */
static sr_code r_keys(cpuu_ctx *c, void *state, cpuu_keys *out, cpuu_keys *tout, sr_err *err)
{
    (void)c;
    rstate *s = state;
    keys k = {0}, kt = {.ex_only = 1};
    int fail = 0;
    for (size_t i = 0; i < s->src.n && !fail; i++)
        if (processed(s->src.v[i]))
            fail = each_address(s->src.v[i], collect_key, &k) != 0;
    for (size_t i = 0; i < s->tgt.n && !fail; i++)
        fail = each_address(s->tgt.v[i], collect_key, &kt) != 0;
    sr_code rc = fail ? sr_err_set(err, SR_E_NOMEM, "out of memory") : SR_OK;
    if (rc == SR_OK)
        rc = keys_move(&k, out, err);
    if (rc == SR_OK)
        rc = keys_move(&kt, tout, err);
    keys_clear(&k);
    keys_clear(&kt);
    return rc;
}

static sr_code resolve_all(cpuu_ctx *c, rstate *s, sr_err *err)
{
    keys k = {0}, kt = {.ex_only = 1};
    int fail = 0;
    for (size_t i = 0; i < s->src.n && !fail; i++)
        if (processed(s->src.v[i]))
            fail = each_address(s->src.v[i], collect_key, &k) != 0;
    for (size_t i = 0; i < s->tgt.n && !fail; i++)
        fail = each_address(s->tgt.v[i], collect_key, &kt) != 0;
    sr_code rc = fail ? sr_err_set(err, SR_E_NOMEM, "out of memory") : SR_OK;
    if (rc == SR_OK)   /* one batch for both sides' addresses */
        rc = rmap_resolve_both(c->map, (const char *const *)k.v, k.n, (const char *const *)kt.v,
                               kt.n, err);
    keys_clear(&k);
    keys_clear(&kt);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: ", c->who, FEATURE);
    return rc;
}

/* Map one processed source rule into the work document and queue its
 * Create/Set (or nothing when the target copy is already equal). */
static sr_code plan_rule(cpuu_ctx *c, rstate *s, xmlNodePtr src, int nth, paths *fp,
                         feature_stats *st, sr_err *err)
{
    char *name = text_of(src, "DisplayName");
    xmlNodePtr copy = xmlDocCopyNode(src, s->work, 1);
    if (!name || !copy) {
        free(name);
        xmlFreeNode(copy);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    xmlAddChild(xmlDocGetRootElement(s->work), copy);
    mapctx m = {.c = c, .st = st, .rule_name = name, .src = &fp[0], .tgt = &fp[1]};
    each_address(copy, map_address, &m);
    map_folders(&m, copy);
    sr_code rc = SR_OK;
    if (m.bad) {
        st->unsupported++;
        sr_log(SR_LOG_WARN, c->who, "%s: rule '%s' is not written to the target (see above)",
               FEATURE, name);
    } else {
        /* the copy made before (by id, even renamed), else by name */
        char *sid = text_of(src, "RuleId");
        xmlNodePtr have = rule_by_id(&s->tgt, idmap_get(&s->map, sid));
        if (!have)
            have = target_copy(&s->tgt, name, nth);
        char *tid = have ? text_of(have, "RuleId") : NULL;
        idmap_set(&s->map, sid, tid);
        free(tid);
        if (!have) {
            sr_log(SR_LOG_INFO, c->who, "%s: plan: create rule '%s'", FEATURE, name);
            rc = add_op(s, (ewsf_rule_op){.kind = EWSF_RULE_CREATE, .rule = copy}, err);
            created *nm = rc == SR_OK ? realloc(s->made, (s->nmade + 1) * sizeof *nm) : NULL;
            if (nm) {
                s->made = nm;
                s->made[s->nmade++] = (created){.src_id = sid, .name = sr_strdup(name), .nth = nth};
                sid = NULL;
            }
        } else if (!same_rule(c->map, copy, have)) {
            sr_log(SR_LOG_INFO, c->who, "%s: plan: set rule '%s' (its target copy differs)", FEATURE,
                   name);
            char *id = text_of(have, "RuleId");
            if (id)
                set_child_text(copy, "RuleId", id);
            free(id);
            rc = add_op(s, (ewsf_rule_op){.kind = EWSF_RULE_SET, .rule = copy}, err);
        }
        free(sid);
    }
    free(name);
    return rc;
}

/* How many earlier processed source rules carry this rule's name. */
static int name_ordinal(const rules *r, size_t upto, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < upto; i++) {
        char *dn = processed(r->v[i]) ? text_of(r->v[i], "DisplayName") : NULL;
        n += dn && strcmp(dn, name) == 0;
        free(dn);
    }
    return n;
}

static int has_client_only(const rules *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (flag(r->v[i], "IsNotSupported"))
            return 1;
    return 0;
}

static sr_code r_plan(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    rstate *s = state;
    sr_code rc = resolve_all(c, s, err);
    if (rc != SR_OK)
        return rc;
    xmlFreeDoc(s->work);
    free(s->ops);
    s->ops = NULL;
    s->nops = 0;
    made_clear(s);
    s->work = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = s->work ? xmlNewDocNode(s->work, NULL, BAD_CAST "rules", NULL) : NULL;
    if (!root)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    xmlDocSetRootElement(s->work, root);
    unsigned disabled = 0;
    paths fp[2];
    int pf = paths_init(&fp[0], &c->src_folders) | paths_init(&fp[1], &c->tgt_folders);
    if (pf)
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < s->src.n && rc == SR_OK; i++) {
        xmlNodePtr r = s->src.v[i];
        char *name = text_of(r, "DisplayName");
        if (flag(r, "IsNotSupported")) {
            st->unsupported++;
            sr_log(SR_LOG_WARN, c->who, "%s: rule '%s' is a client-only rule EWS cannot represent: "
                   "reported, not copied", FEATURE, name ? name : "?");
        } else if (!flag(r, "IsEnabled")) {
            disabled++;
            sr_log(SR_LOG_INFO, c->who, "%s: rule '%s' is disabled: not processed", FEATURE,
                   name ? name : "?");
        } else if (name) {
            rc = plan_rule(c, s, r, name_ordinal(&s->src, i, name), fp, st, err);
        }
        free(name);
    }
    paths_free(&fp[0]);
    paths_free(&fp[1]);
    /* RemoveOutlookRuleBlob drops Outlook's client-only rules: only when the
     * target has none of them */
    s->remove_blob = !has_client_only(&s->tgt);
    st->changed = (unsigned)s->nops;
    sr_log(SR_LOG_INFO, c->who, "%s: %zu source rules (%u disabled); %zu to write to the target",
           FEATURE, s->src.n, disabled, s->nops);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: ", c->who, FEATURE);
    return rc;
}

static sr_code r_backup(cpuu_ctx *c, void *state, sr_err *err)
{
    rstate *s = state;
    if (c->dry_run)
        return SR_OK;
    if (cpuu_backup_exists(c, FEATURE, BACKUP_NAME))
        return SR_OK;   /* the first run's backup is the pre-switch state: keep it */
    int n = 0;
    xmlChar *x = ewsf_dump_node(s->tgt.op, &n);
    if (!x)
        return sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, FEATURE);
    sr_code rc = cpuu_backup_put(c, FEATURE, BACKUP_NAME, x, (size_t)n, err);
    xmlFree(x);
    return rc;
}

static char *op_name(const ewsf_rule_op *op)
{
    if (op->kind == EWSF_RULE_DELETE)
        return sr_asprintf("deleting rule %s", op->rule_id);
    char *n = text_of(op->rule, "DisplayName");
    char *s = sr_asprintf("rule '%s'", n ? n : "?");
    free(n);
    return s;
}

/* ONE UpdateInboxRules.  The server applies all operations or none; when it
 * refuses one (validation error naming its index), that one is reported
 * and the others are sent again — bounded by the number of operations.
 * *answered: 0 when the last call was deferred to a write wave (SR_E_BUSY). */
static sr_code write_ops(cpuu_ctx *c, const ewsf_rule_op *ops, size_t n, int remove_blob,
                         int *answered, sr_err *err)
{
    *answered = 1;
    ewsf_rule_op *left = n ? malloc(n * sizeof *left) : NULL;
    if (n && !left)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (n)
        memcpy(left, ops, n * sizeof *left);
    mapi_ews_target t = mapi_session_target(c->tgt);
    sr_code first = SR_OK;
    unsigned refused = 0;
    for (size_t attempt = 0; n && attempt <= n; attempt++) {
        sr_err e = {0};
        mapi_ews_call call = {0};
        call.req = ewsf_req_updateinboxrules(&t, mapi_session_mailbox(c->tgt), remove_blob, left, n, &e);
        sr_code rc = call.req ? mapi_session_run(c->tgt, &call, 1, &e) : e.code;
        int idx = -1, dropped = 0;
        *answered = rc != SR_E_BUSY;
        if (rc == SR_OK)
            rc = ewsf_parse_updateinboxrules(call.resp_op, &idx, &e);
        xmlFreeDoc(call.req);
        xmlFreeDoc(call.resp);
        if (rc == SR_OK)
            break;
        if (idx >= 0 && (size_t)idx < n) {
            char *what = op_name(&left[idx]);
            sr_err_prefix(&e, "%s refused by the target: ", what ? what : "a rule");
            free(what);
            sr_log(SR_LOG_ERROR, c->who, "%s: %s", FEATURE, e.msg);
            memmove(&left[idx], &left[idx + 1], (n - (size_t)idx - 1) * sizeof *left);
            n--;
            refused++;
            dropped = 1;
        }
        if (first == SR_OK) {
            first = rc;
            *err = e;
        }
        if (!dropped)
            break;   /* not a per-rule refusal: nothing to retry without */
    }
    free(left);
    if (first != SR_OK) {
        if (refused)
            sr_err_prefix(err, "%u rule operation(s) refused, the others written; first: ", refused);
        sr_err_prefix(err, "%s: %s: UpdateInboxRules on %s: ", c->who, FEATURE,
                      mapi_session_mailbox(c->tgt));
    }
    return first;
}

static sr_code r_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    rstate *s = state;
    if (c->dry_run) {
        sr_log(SR_LOG_NOTICE, c->who, "%s: dry run: %u rule operations not written", FEATURE,
               st->changed);
        return SR_OK;
    }
    sr_code rc = write_ops(c, s->ops, s->nops, s->remove_blob, &s->written, err);
    if (rc == SR_OK && s->nmade && c->backups_transient && !s->said_transient) {
        /* the id map lives with the backups, which the cleanup after this
         * update deletes (a temporary profile has no later run): reading
         * the new ids back would cost the mailbox a round trip for nothing */
        s->said_transient = 1;
        sr_log(SR_LOG_INFO, c->who, "%s: %zu new copies' ids not read back: a temporary "
               "profile's id map goes with its backups", FEATURE, s->nmade);
    }
    if (s->nmade && !c->backups_transient) {
        /* UpdateInboxRules does not answer the new RuleIds: read them once,
         * so a copy renamed on the target later is still recognised */
        rules now = {0};
        sr_err e = {0};
        if (get_rules(c, c->tgt, &now, &e) == SR_OK)
            for (size_t i = 0; i < s->nmade; i++) {
                xmlNodePtr r = target_copy(&now, s->made[i].name, s->made[i].nth);
                char *tid = r ? text_of(r, "RuleId") : NULL;
                idmap_set(&s->map, s->made[i].src_id, tid);
                free(tid);
            }
        else if (e.code != SR_E_BUSY)   /* deferred into a write wave: read in the next */
            sr_log(SR_LOG_WARN, c->who, "%s: the new copies' ids were not read (%s): matched by "
                   "name next time", FEATURE, e.msg);
        rules_clear(&now);
    }
    sr_err e = {0};
    if (idmap_save(c, &s->map, &e) != SR_OK)
        sr_log(SR_LOG_WARN, c->who, "%s: the rule id map was not saved: %s", FEATURE, e.msg);
    return rc;
}

/* The junk reset may write once UpdateInboxRules is answered: the read of
 * the new ids after it touches nothing the reset writes. */
static int r_writes_done(const void *state)
{
    return ((const rstate *)state)->written;
}

/* ---- restore ---- */
static xmlNodePtr rule_by_id(const rules *r, const char *id)
{
    for (size_t i = 0; id && i < r->n; i++) {
        char *x = text_of(r->v[i], "RuleId");
        int hit = x && strcmp(x, id) == 0;
        free(x);
        if (hit)
            return r->v[i];
    }
    return NULL;
}

/* Operations turning cur into saved; ids in *idbuf (freed by caller). */
static sr_code restore_ops(cpuu_ctx *c, const rules *saved, const rules *cur, rstate *s,
                           char ***ids, size_t *nids, sr_err *err)
{
    *ids = calloc(cur->n + 1, sizeof **ids);
    *nids = 0;
    if (!*ids)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    sr_code rc = SR_OK;
    for (size_t i = 0; i < cur->n && rc == SR_OK; i++) {
        char *id = text_of(cur->v[i], "RuleId");
        if (id && !rule_by_id(saved, id)) {
            (*ids)[(*nids)++] = id;
            rc = add_op(s, (ewsf_rule_op){.kind = EWSF_RULE_DELETE, .rule_id = id}, err);
        } else {
            free(id);
        }
    }
    for (size_t i = 0; i < saved->n && rc == SR_OK; i++) {
        char *id = text_of(saved->v[i], "RuleId");
        xmlNodePtr have = rule_by_id(cur, id);
        free(id);
        if (have && same_rule(NULL, saved->v[i], have))
            continue;
        if (flag(saved->v[i], "IsNotSupported")) {
            sr_log(SR_LOG_WARN, c->who, "%s: restore: a client-only rule cannot be written "
                   "through EWS and stays as it is", FEATURE);
            continue;
        }
        rc = add_op(s, (ewsf_rule_op){.kind = have ? EWSF_RULE_SET : EWSF_RULE_CREATE,
                                      .rule = saved->v[i]}, err);
    }
    return rc;
}

static sr_code r_restore(cpuu_ctx *c, sr_err *err)
{
    rules saved = {0}, cur = {0};
    sr_code rc = cpuu_backup_get_xml(c, FEATURE, BACKUP_NAME, "Rules", NULL, &saved.doc, err);
    if (rc != SR_OK)
        return rc;
    rc = ewsf_parse_getinboxrules(xmlDocGetRootElement(saved.doc), &saved.v, &saved.n, &saved.blob,
                                  err);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: backup: ", c->who, FEATURE);
    if (rc == SR_OK)
        rc = get_rules(c, c->tgt, &cur, err);
    rstate s = {0};
    char **ids = NULL;
    size_t nids = 0;
    if (rc == SR_OK)
        rc = restore_ops(c, &saved, &cur, &s, &ids, &nids, err);
    if (rc == SR_OK && !c->dry_run)
        rc = write_ops(c, s.ops, s.nops, !has_client_only(&cur), &s.written, err);
    sr_log(SR_LOG_INFO, c->who, "%s: restore: %zu rule operations", FEATURE, s.nops);
    for (size_t i = 0; i < nids; i++)
        free(ids[i]);
    free(ids);
    free(s.ops);
    rules_clear(&saved);
    rules_clear(&cur);
    return rc;
}

/* the same over Microsoft Graph (feat_rules_graph.c) */
extern const struct feature_ops cpuu_feat_rules_graph;

const struct feature_ops cpuu_feat_rules = {
    .id = CFG_F_RULES,
    .read = r_read,
    .keys = r_keys,
    .plan = r_plan,
    .backup = r_backup,
    .apply = r_apply,
    .restore = r_restore,
    .free_state = rstate_free,
    .graph = &cpuu_feat_rules_graph,
    .writes_done = r_writes_done,
};
