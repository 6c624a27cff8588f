/* graph_users.c — GET /users/{id | userPrincipalName} and GET /users with
 * $filter on mail, userPrincipalName or proxyAddresses/any(...).  A user's id
 * is its mailbox GUID (lower case) and its UPN its primary SMTP address: the
 * simulator has no directory apart from the mailboxes. */
#include "tests/exsim/graph.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The properties GET /users returns without $select (user resource, "default properties"). */
static const char *const default_props[] = { "businessPhones", "displayName", "givenName", "jobTitle",
                                             "mail", "mobilePhone", "officeLocation", "preferredLanguage",
                                             "surname", "userPrincipalName", "id", NULL };

static json_t *user_json(const exsim_mbx *m)
{
    char id[64];
    snprintf(id, sizeof id, "%s", m->info.mailbox_guid ? m->info.mailbox_guid : "");
    for (char *p = id; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    json_t *proxies = json_array();
    for (char **p = m->proxies; p && *p; p++)
        json_array_append_new(proxies, json_string(*p));
    return json_pack("{s:[],s:s?,s:n,s:n,s:s,s:n,s:n,s:n,s:n,s:s,s:s,s:o,s:s}", "businessPhones",
                     "displayName", m->info.display_name, "givenName", "jobTitle", "mail", m->info.smtp,
                     "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName",
                     m->info.smtp, "id", id, "proxyAddresses", proxies, "userType", "Member");
}

/* Keep what $select names (or the default properties); 0, or -1 with an unknown name. */
static int apply_select(json_t *u, const char *select, char *bad, size_t badlen)
{
    json_t *keep = json_object();
    if (select) {
        char *s = strdup(select), *save = NULL;
        for (char *w = strtok_r(s, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
            json_t *v = json_object_get(u, w);
            if (!v) {
                snprintf(bad, badlen, "%s", w);
                free(s);
                json_decref(keep);
                return -1;
            }
            json_object_set(keep, w, v);
        }
        free(s);
    } else {
        for (int i = 0; default_props[i]; i++)
            json_object_set(keep, default_props[i], json_object_get(u, default_props[i]));
    }
    json_object_clear(u);
    json_object_update(u, keep);
    json_decref(keep);
    return 0;
}

int exsim_graph_user_get(exsim_gcall *c)
{
    json_t *u = user_json(c->mbx);
    char bad[128];
    if (apply_select(u, c->select, bad, sizeof bad)) {
        json_decref(u);
        return exsim_graph_error(c, 400, "Request_BadRequest",
                                 "Could not find a property named '%s' on type 'microsoft.graph.user'.", bad);
    }
    json_t *out = json_object();
    json_object_set_new(out, "@odata.context", exsim_graph_context(c, "users%s%s%s/$entity",
                                                                   c->select ? "(" : "", c->select ? c->select : "",
                                                                   c->select ? ")" : ""));
    json_object_update(out, u);
    json_decref(u);
    c->out = out;
    return 200;
}

/* One comparison of the $filters Graph supports on users for this purpose:
 *   mail eq 'a'   userPrincipalName eq 'a'   proxyAddresses/any(x:x eq 'smtp:a') */
typedef struct ufilter { char prop[32]; char value[320]; } ufilter;

/* An OData string literal at s ('...', a quote inside doubled: OData ABNF
 * SQUOTE-in-string = SQUOTE SQUOTE) into out; the rest after it, or NULL
 * when s holds none or it does not fit. */
static const char *odata_string(const char *s, char *out, size_t outlen)
{
    size_t n = 0;
    if (*s++ != '\'')
        return NULL;
    for (; *s; s++) {
        if (*s == '\'' && s[1] != '\'')
            break;
        s += *s == '\'';   /* '' is one quote */
        if (n + 1 >= outlen)
            return NULL;
        out[n++] = *s;
    }
    if (*s != '\'')
        return NULL;
    out[n] = '\0';
    return s + 1;
}

/* Nothing but blanks and then the end. */
static int at_end(const char *s)
{
    return s && s[strspn(s, " ")] == '\0';
}

static int parse_filter(const char *f, ufilter *uf)
{
    char var[16], var2[16];
    int n = 0;
    if (sscanf(f, " proxyAddresses/any(%15[a-zA-Z]:%15[a-zA-Z] eq %n", var, var2, &n) == 2 && n &&
        !strcmp(var, var2)) {
        const char *rest = odata_string(f + n, uf->value, sizeof uf->value);
        if (rest && *rest == ')' && at_end(rest + 1)) {
            snprintf(uf->prop, sizeof uf->prop, "proxyAddresses");
            return 0;
        }
        return -1;
    }
    n = 0;
    if (sscanf(f, " %31[a-zA-Z] eq %n", uf->prop, &n) == 1 && n &&
        (!strcmp(uf->prop, "mail") || !strcmp(uf->prop, "userPrincipalName")))
        return at_end(odata_string(f + n, uf->value, sizeof uf->value)) ? 0 : -1;
    return -1;
}

static int matches(const exsim_mbx *m, const ufilter *uf)
{
    if (strcmp(uf->prop, "proxyAddresses"))
        return !strcasecmp(m->info.smtp, uf->value);
    for (char **p = m->proxies; p && *p; p++)
        if (!strcasecmp(*p, uf->value))
            return 1;
    return 0;
}

int exsim_graph_users_list(exsim_gcall *c)
{
    ufilter uf;
    if (!c->filter || parse_filter(c->filter, &uf))
        return exsim_graph_error(c, 400, "Request_UnsupportedQuery", "Unsupported Query.");
    json_t *value = json_array();
    for (size_t i = 0; i < c->org->nmbx; i++) {
        if (!matches(&c->org->mbx[i], &uf))
            continue;
        json_t *u = user_json(&c->org->mbx[i]);
        char bad[128];
        if (apply_select(u, c->select, bad, sizeof bad)) {
            json_decref(u);
            json_decref(value);
            return exsim_graph_error(c, 400, "Request_BadRequest",
                                     "Could not find a property named '%s' on type 'microsoft.graph.user'.", bad);
        }
        json_array_append_new(value, u);
    }
    c->out = json_pack("{s:o,s:o}", "@odata.context", exsim_graph_context(c, "users"), "value", value);
    return 200;
}
