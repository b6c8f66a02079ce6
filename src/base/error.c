/* error.c — thread-local last-error message, status names, log callback. */
#include "base.h"

#include <stdio.h>

static _Thread_local char g_last_error[1024];
static eva_log_fn g_log_fn;
static void *g_log_user;

const char *eva_strerror(eva_status status) {
    switch (status) {
    case EVA_OK: return "ok";
    case EVA_ERR_INVALID_ARG: return "invalid argument";
    case EVA_ERR_IO: return "I/O error";
    case EVA_ERR_FORMAT: return "malformed file";
    case EVA_ERR_UNSUPPORTED: return "unsupported";
    case EVA_ERR_NOMEM: return "out of memory";
    case EVA_ERR_SHAPE: return "shape mismatch";
    case EVA_ERR_MISSING: return "missing tensor or key";
    case EVA_ERR_SECURITY: return "refused for safety";
    case EVA_ERR_CANCELLED: return "cancelled";
    case EVA_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *eva_last_error(void) { return g_last_error; }
void eva_clear_error(void) { g_last_error[0] = 0; }
const char *eva_version(void) { return EVA_VERSION_STRING; }

eva_status eva_fail(eva_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
    va_end(ap);
    return status;
}

eva_status eva_fail_context(eva_status status, const char *fmt, ...) {
    char prefix[512], old[sizeof g_last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_last_error, sizeof old);
    /* prefix + ": " + previous message, cut to the buffer (explicit: no format truncation) */
    const char *tail = old[0] ? old : eva_strerror(status);
    size_t cap = sizeof g_last_error, n = strlen(prefix);
    if (n > cap - 1) n = cap - 1;
    memcpy(g_last_error, prefix, n);
    if (n + 2 < cap) {
        memcpy(g_last_error + n, ": ", 2);
        n += 2;
    }
    size_t t = strlen(tail);
    if (t > cap - 1 - n) t = cap - 1 - n;
    memcpy(g_last_error + n, tail, t);
    g_last_error[n + t] = 0;
    return status;
}

void eva_set_log_callback(eva_log_fn fn, void *user_data) {
    g_log_fn = fn;
    g_log_user = user_data;
}

void eva_log(int level, const char *fmt, ...) {
    if (!g_log_fn) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_log_fn(level, buf, g_log_user);
}
