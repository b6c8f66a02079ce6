/* cli_common.c — argument helpers and error printing shared by the subcommands. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "eva %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "eva %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'eva help %s')\n", cmd);
    return 2;
}

int cli_lib_error(const char *cmd, eva_status st) {
    const char *msg = eva_last_error();
    fprintf(stderr, "eva %s: %s\n", cmd, msg[0] ? msg : eva_strerror(st));
    return 1;
}

bool cli_parse_int(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < -2147483647L || v > 2147483647L) return false;
    *out = (int)v;
    return true;
}

bool cli_parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

bool cli_take_str(const char *cmd, int argc, char **argv, int *i, const char **out) {
    if (*i + 1 >= argc) {
        cli_usage(cmd, "%s needs a value", argv[*i]);
        return false;
    }
    *out = argv[++*i];
    return true;
}

bool cli_take_int(const char *cmd, int argc, char **argv, int *i, int *out) {
    const char *s;
    if (!cli_take_str(cmd, argc, argv, i, &s)) return false;
    if (!cli_parse_int(s, out)) {
        cli_usage(cmd, "%s expects an integer, got '%s'", argv[*i - 1], s);
        return false;
    }
    return true;
}

bool cli_take_double(const char *cmd, int argc, char **argv, int *i, double *out) {
    const char *s;
    if (!cli_take_str(cmd, argc, argv, i, &s)) return false;
    if (!cli_parse_double(s, out)) {
        cli_usage(cmd, "%s expects a number, got '%s'", argv[*i - 1], s);
        return false;
    }
    return true;
}

bool cli_take_float(const char *cmd, int argc, char **argv, int *i, float *out) {
    double d;
    if (!cli_take_double(cmd, argc, argv, i, &d)) return false;
    *out = (float)d;
    return true;
}

char *cli_split_tensor_spec(const char *spec, const char *default_name, const char **name_out) {
    char *path = strdup(spec);
    if (!path) return NULL;
    /* the tensor name follows the last ':' unless that ':' is part of the path (file exists) */
    char *colon = strrchr(path, ':');
    *name_out = default_name;
    if (colon && access(path, F_OK) != 0) {
        *colon = 0;
        *name_out = spec + (colon - path) + 1;
    }
    return path;
}

bool cli_is_help(const char *arg) {
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

bool cli_stderr_is_tty(void) { return isatty(2) != 0; }
