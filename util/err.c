/* err.c — the project's one error type (see util.h). */
#include "util/util.h"

#include <stdio.h>
#include <string.h>

const char *sr_strerror(sr_code code)
{
    switch (code) {
    case SR_OK: return "no error";
    case SR_E_NOMEM: return "out of memory";
    case SR_E_IO: return "file input/output error";
    case SR_E_USAGE: return "incorrect command line parameters";
    case SR_E_CONFIG: return "incorrect parameter in the INI configuration file";
    case SR_E_CMDLINE: return "incorrect CPUU command line";
    case SR_E_CRYPTO: return "cannot encrypt or decrypt a stored credential";
    case SR_E_PARSE: return "malformed input";
    case SR_E_NOTFOUND: return "not found";
    case SR_E_AMBIGUOUS: return "ambiguous: more than one object matches";
    case SR_E_CONNECT: return "cannot connect";
    case SR_E_TIMEOUT: return "timed out";
    case SR_E_TLS: return "TLS or certificate verification failed";
    case SR_E_AUTH: return "authentication failed";
    case SR_E_PROTOCOL: return "protocol error";
    case SR_E_SERVER: return "server error";
    case SR_E_BUSY: return "server busy (throttled)";
    case SR_E_LIMIT: return "size or count limit exceeded";
    case SR_E_ACCESS: return "access denied";
    case SR_E_EXISTS: return "already exists";
    case SR_E_INVALID: return "invalid argument";
    case SR_E_UNSUPPORTED: return "not supported";
    case SR_E_INTERNAL: return "internal error";
    case SR_E_NOSPACE: return "no space left on the file system";
    case SR_E_EWS_BLOCKED: return "EWS is blocked for this app in the target tenant";
    case SR_E__MAX: break;
    }
    return "unknown error";
}

sr_class sr_default_class(sr_code code)
{
    switch (code) {
    case SR_OK: return SR_CLASS_NONE;
    case SR_E_BUSY: return SR_CLASS_WAIT;
    case SR_E_TIMEOUT:
    case SR_E_CONNECT: return SR_CLASS_RETRY;
    default: return SR_CLASS_FINAL;
    }
}

void sr_err_clear(sr_err *err)
{
    if (!err)
        return;
    err->code = SR_OK;
    err->cls = SR_CLASS_NONE;
    err->backoff_ms = 0;
    err->msg[0] = '\0';
}

sr_code sr_err_set(sr_err *err, sr_code code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    err->cls = sr_default_class(code);
    err->backoff_ms = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void sr_err_prefix(sr_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char head[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    /* Truncation is acceptable: the head (the context) is kept whole. */
    size_t hl = strnlen(head, sizeof err->msg - 1);
    size_t ml = strnlen(err->msg, sizeof err->msg - 1);
    if (hl + ml > sizeof err->msg - 1)
        ml = sizeof err->msg - 1 - hl;
    memmove(err->msg + hl, err->msg, ml);
    memcpy(err->msg, head, hl);
    err->msg[hl + ml] = '\0';
}
