/* cli_train.c — training progress display (see cli_train.h). */
#include "cli_train.h"
#include "train/comm.h"

void cli_train_progress(const eva_train_progress *p, void *user) {
    cli_train_display *d = user;
    if (p->event) {
        fprintf(stderr, "%seva %s: %s\n", d->tty ? "\r\033[K" : "", d->cmd, p->message);
        return;
    }
    if (d->tty) {
        int eta = (int)p->eta_s;
        fprintf(stderr, "\r\033[Kstep %lld/%lld  epoch %lld  loss %.4f  lr %.2e  |g| %.3f  %.1f img/s  ETA %d:%02d:%02d",
                (long long)p->step, (long long)p->total_steps, (long long)p->epoch, p->loss, p->lr, p->grad_norm,
                p->images_per_s, eta / 3600, eta / 60 % 60, eta % 60);
        if (p->step == p->total_steps) fputc('\n', stderr);
    } else if (p->step - d->last_print >= 50 || p->step == p->total_steps) {
        fprintf(stderr, "step %lld/%lld loss %.4f lr %.2e %.1f img/s\n", (long long)p->step, (long long)p->total_steps,
                p->loss, p->lr, p->images_per_s);
        d->last_print = p->step;
    }
}

bool cli_take_precision(const char *cmd, int argc, char **argv, int *i, bool *bf16) {
    const char *v = NULL;
    if (!cli_take_str(cmd, argc, argv, i, &v)) return false;
    if (!strcmp(v, "fp32") || !strcmp(v, "f32")) *bf16 = false;
    else if (!strcmp(v, "bf16")) *bf16 = true;
    else {
        cli_usage(cmd, "--precision must be fp32 or bf16, not '%s'", v);
        return false;
    }
    return true;
}

int cli_take_comm_flag(const char *cmd, int argc, char **argv, int *i, bool *no_overlap, bool *grad_bf16) {
    const char *a = argv[*i];
    if (!strcmp(a, "--no-overlap")) {
        *no_overlap = true;
        return 1;
    }
    if (!strcmp(a, "--bucket-mb")) {
        double mb;
        if (!cli_take_double(cmd, argc, argv, i, &mb)) return -1;
        if (!(mb > 0 && mb <= 1024)) {
            cli_usage(cmd, "--bucket-mb must be in (0, 1024]");
            return -1;
        }
        eva_comm_set_bucket_mb(mb);
        return 1;
    }
    if (!strcmp(a, "--grad-compress")) {
        const char *v = NULL;
        if (!cli_take_str(cmd, argc, argv, i, &v)) return -1;
        if (strcmp(v, "bf16") && strcmp(v, "none")) {
            cli_usage(cmd, "--grad-compress takes bf16 or none");
            return -1;
        }
        *grad_bf16 = !strcmp(v, "bf16");
        return 1;
    }
    return 0;
}
