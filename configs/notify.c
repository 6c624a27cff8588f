/* notify.c — notification subject/body templates (spec: "Notification
 * Format", Variables). */
#include "configs/configs.h"

#include <stdlib.h>
#include <string.h>

static const char *var_value(char c, const cfg_notify_vars *v)
{
    switch (c) {
    case 'R': case 'r': return v->updated ? "UPDATED" : "NOT UPDATED";
    case 'U': case 'u': return v->user ? v->user : "";
    case 'P': case 'p': return v->profile ? v->profile : "";
    case 'H': case 'h': return v->host ? v->host : "";
    case 'T': case 't': return v->time ? v->time : "";
    case 'D': case 'd': return v->date ? v->date : "";
    case '%': return "%";
    default: return NULL;
    }
}

/* Two passes over the template: size, then copy — no reallocations. */
static size_t expand_into(const char *tmpl, const cfg_notify_vars *v, char *out)
{
    size_t n = 0;
    for (const char *p = tmpl; *p; p++) {
        const char *val = *p == '%' && p[1] ? var_value(p[1], v) : NULL;
        if (val) {
            size_t l = strlen(val);
            if (out)
                memcpy(out + n, val, l);
            n += l;
            p++;
        } else {
            if (out)
                out[n] = *p;
            n++;
        }
    }
    if (out)
        out[n] = '\0';
    return n;
}

char *cfg_notification_expand(const char *tmpl, const cfg_notify_vars *vars)
{
    static const cfg_notify_vars none = { 0 };
    const cfg_notify_vars *v = vars ? vars : &none;
    const char *t = tmpl ? tmpl : "";
    char *out = malloc(expand_into(t, v, NULL) + 1);
    if (out)
        expand_into(t, v, out);
    return out;
}
