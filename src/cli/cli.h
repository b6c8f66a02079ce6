/* cli.h — shared pieces of the `eva` command: the subcommand table and small argument helpers.
 * Every subcommand lives in its own cmd_<name>.c and returns a process exit code; errors are one
 * line on stderr ("eva <cmd>: what was wrong") and a non-zero exit. */
#ifndef EVA_CLI_H
#define EVA_CLI_H

#include "eva.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct eva_command {
    const char *name;
    int (*run)(int argc, char **argv);   /* argv[0] is the subcommand name */
    const char *summary;                 /* one line for `eva help` */
    const char *help;                    /* full text for `eva help NAME` */
} eva_command;

/* Print "eva <cmd>: message" to stderr; returns 1 (or 2 for usage errors via cli_usage). */
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report the library's last error: "eva <cmd>: <eva_last_error()>". */
int cli_lib_error(const char *cmd, eva_status st);

/* Argument scanning: `i` indexes argv; flag value is argv[i+1]. Returns false (and prints a
 * usage error) when the value is missing or not a valid number. */
bool cli_take_str(const char *cmd, int argc, char **argv, int *i, const char **out);
bool cli_take_int(const char *cmd, int argc, char **argv, int *i, int *out);
bool cli_take_float(const char *cmd, int argc, char **argv, int *i, float *out);
bool cli_take_double(const char *cmd, int argc, char **argv, int *i, double *out);
bool cli_parse_int(const char *s, int *out);
bool cli_parse_double(const char *s, double *out);
/* "tensor.safetensors:name" -> path (malloc'd) and tensor name (default if no ':NAME'). */
char *cli_split_tensor_spec(const char *spec, const char *default_name, const char **name_out);
bool cli_is_help(const char *arg);
const eva_command *cli_find_command(const char *name);
bool cli_stderr_is_tty(void);

#endif
