/* cli_model.h — the model options every inference command shares (--model/--synthetic/--arch/
 * --size/--posemb/--ckpt-key/--dtype f32|bf16|q8/--layout rows|panels/... /-t) and opening the model with one clear
 * error line. */
#ifndef EVA_CLI_MODEL_H
#define EVA_CLI_MODEL_H

#include "cli.h"

typedef struct cli_model_opts {
    const char *model_path;
    const char *arch;
    bool synthetic;
    int size;
    int threads;
    int classes;
    eva_model_params params;
} cli_model_opts;

void cli_model_opts_init(cli_model_opts *o);
/* Consumes argv[*i] (and its value) if it is a model option: returns 1; 0 if not one of ours;
 * -1 on a usage error (already printed). */
int cli_model_opts_parse(const char *cmd, cli_model_opts *o, int argc, char **argv, int *i);
/* Checks that the options make sense together; prints and returns non-zero if not. */
int cli_model_opts_check(const char *cmd, const cli_model_opts *o);
/* Loads (or synthesises) the model; prints the error line itself on failure. */
eva_status cli_model_open(const char *cmd, cli_model_opts *o, eva_model **out);
/* [B,3,S,S] golden formula input, malloc'd. */
float *cli_formula_input(const char *tag, int B, int S);

#endif
