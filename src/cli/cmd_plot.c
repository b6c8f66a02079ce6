/* cmd_plot.c — `eva plot RUN/metrics.jsonl -o loss.png`: training curves drawn by gnuplot
 * (Debian's gnuplot-nox), fed a whitespace table extracted from the JSON lines. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char help_plot[] =
    "usage: eva plot RUN/metrics.jsonl -o PLOT.png [--title TEXT]\n"
    "\n"
    "Draws the loss curve (and the learning rate on a second axis) of a training run's\n"
    "metrics.jsonl with gnuplot (apt-get install gnuplot-nox). Lines without a \"loss\" are\n"
    "skipped (e.g. evaluation records).\n";

static bool json_number(const char *line, const char *key, double *out) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p) return false;
    char *end;
    *out = strtod(p + strlen(pat), &end);
    return end != p + strlen(pat);
}

int cmd_plot(int argc, char **argv) {
    const char *cmd = "plot", *in = NULL, *out = NULL, *title = "eva training";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (!cli_take_str(cmd, argc, argv, &i, &out)) return 2;
        } else if (!strcmp(argv[i], "--title")) {
            if (!cli_take_str(cmd, argc, argv, &i, &title)) return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage(cmd, "unknown option '%s'", argv[i]);
        } else if (!in) {
            in = argv[i];
        } else {
            return cli_usage(cmd, "one metrics file at a time");
        }
    }
    if (!in || !out) return cli_usage(cmd, "METRICS and -o PLOT.png are required");
    FILE *f = fopen(in, "r");
    if (!f) return cli_error(cmd, "%s: cannot open: %s", in, strerror(errno));
    char table[] = "/tmp/eva-plot-XXXXXX";
    int fd = mkstemp(table);
    if (fd < 0) { fclose(f); return cli_error(cmd, "cannot create a temporary file: %s", strerror(errno)); }
    FILE *t = fdopen(fd, "w");
    char line[4096];
    int rows = 0;
    while (t && fgets(line, sizeof line, f)) {
        double step, loss, lr = 0;
        if (!json_number(line, "step", &step) || !json_number(line, "loss", &loss)) continue;
        json_number(line, "lr", &lr);
        fprintf(t, "%.0f %.9g %.9g\n", step, loss, lr);
        rows++;
    }
    fclose(f);
    if (t) fclose(t);
    if (rows == 0) { unlink(table); return cli_error(cmd, "%s: no lines with \"step\" and \"loss\"", in); }
    char tmp_png[4200];
    snprintf(tmp_png, sizeof tmp_png, "%s.tmp.%ld", out, (long)getpid());
    FILE *g = popen("gnuplot 2>&1", "w");
    if (!g) { unlink(table); return cli_error(cmd, "cannot run gnuplot (apt-get install gnuplot-nox)"); }
    fprintf(g, "set terminal png size 900,540\nset output '%s'\nset title '%s'\nset xlabel 'step'\n"
               "set ylabel 'loss'\nset y2label 'learning rate'\nset y2tics\nset ytics nomirror\nset grid\n"
               "set key top right\nplot '%s' using 1:2 with lines lw 2 title 'loss', '' using 1:3 axes x1y2 with lines "
               "dt 2 title 'lr'\n",
            tmp_png, title, table);
    int rc = pclose(g);
    unlink(table);
    if (rc != 0 || access(tmp_png, F_OK) != 0) {
        unlink(tmp_png);
        return cli_error(cmd, "gnuplot failed (is gnuplot-nox installed? apt-get install gnuplot-nox)");
    }
    if (rename(tmp_png, out) != 0) {
        unlink(tmp_png);
        return cli_error(cmd, "%s: cannot write: %s", out, strerror(errno));
    }
    fprintf(stderr, "eva plot: %d points -> %s\n", rows, out);
    return 0;
}
