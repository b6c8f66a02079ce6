/* cli_train.h — the progress display shared by `eva pretrain` and `eva finetune`: a live line on
 * a terminal, one line every 50 steps otherwise, and events (checkpoint, resume, evaluation) on
 * lines of their own. */
#ifndef EVA_CLI_TRAIN_H
#define EVA_CLI_TRAIN_H

#include "cli.h"
#include "train/pretrain.h"

typedef struct cli_train_display {
    const char *cmd;
    bool tty;
    int64_t last_print;
} cli_train_display;

void cli_train_progress(const eva_train_progress *p, void *user);   /* user: cli_train_display */

/* The data-parallel flags shared by pretrain and finetune: --no-overlap, --bucket-mb MB (sets the
 * comm layer's bucket size), --grad-compress bf16|none. Returns 0 if argv[*i] is none of them, 1
 * when taken, -1 after printing the usage error. */
int cli_take_comm_flag(const char *cmd, int argc, char **argv, int *i, bool *no_overlap, bool *grad_bf16);

/* --precision fp32|bf16 (argv[*i] is the flag): *bf16 set; false after printing the usage error. */
bool cli_take_precision(const char *cmd, int argc, char **argv, int *i, bool *bf16);

#endif
