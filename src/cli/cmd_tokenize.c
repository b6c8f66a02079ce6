/* cmd_tokenize.c — `eva tokenize TEXT...`: CLIP BPE token ids of EVA-CLIP's text tower. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

const char help_tokenize[] =
    "usage: eva tokenize [--context N] [--json] [--raw] [--trim] TEXT...\n"
    "       eva tokenize [options] -        (one text per line from standard input)\n"
    "\n"
    "Prints the CLIP BPE token ids of each TEXT, one line per text, space-separated, exactly as\n"
    "open_clip's tokenizer for EVA01-g-14 (clean='lower') would give them: 49406 <start_of_text>,\n"
    "the BPE ids, 49407 <end_of_text>, zero padding to the context length. Longer texts are\n"
    "truncated with the last id forced to 49407. The vocabulary is built into eva.\n"
    "\n"
    "  --context N   ids per text (default 77, range 2..1048576)\n"
    "  --json        print one JSON array of arrays instead of lines\n"
    "  --raw         the BPE ids alone: no specials, no truncation, no padding\n"
    "  --trim        leave out the zero padding\n"
    "\n"
    "Text cleaning follows ftfy 6.3.1 + html.unescape + whitespace collapse + lower-case; the\n"
    "ftfy mojibake repair is simplified (documented in src/text/ftfy_lite.c).\n"
    "Invalid UTF-8 bytes count as U+FFFD.\n";

typedef struct {
    int context;
    bool json, raw, trim;
    int printed;
} tok_opts;

static int emit(const char *cmd, const char *text, size_t len, tok_opts *o) {
    int32_t *ids;
    size_t n;
    eva_status st;
    if (o->raw) {
        size_t total = 0;
        st = eva_tokenize_encode(text, len, NULL, 0, &total);
        if (st != EVA_OK) return cli_lib_error(cmd, st);
        ids = malloc((total ? total : 1) * sizeof *ids);
        if (!ids) return cli_error(cmd, "out of memory");
        st = eva_tokenize_encode(text, len, ids, total, &n);
    } else {
        ids = malloc((size_t)o->context * sizeof *ids);
        if (!ids) return cli_error(cmd, "out of memory");
        int nt = 0;
        st = eva_tokenize(text, len, ids, o->context, &nt);
        n = o->trim ? (size_t)nt : (size_t)o->context;
    }
    if (st != EVA_OK) {
        free(ids);
        return cli_lib_error(cmd, st);
    }
    if (o->json) fputs(o->printed ? ",\n [" : "[[", stdout);
    for (size_t i = 0; i < n; i++) printf(o->json ? (i ? ", %d" : "%d") : (i ? " %d" : "%d"), (int)ids[i]);
    fputs(o->json ? "]" : "\n", stdout);
    o->printed++;
    free(ids);
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    const char *cmd = "tokenize";
    tok_opts o = {77, false, false, false, 0};
    const char **texts = calloc((size_t)argc, sizeof *texts);
    if (!texts) return cli_error(cmd, "out of memory");
    int n_texts = 0, rc = 0;
    bool from_stdin = false, only_texts = false;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        if (only_texts || a[0] != '-' || !a[1]) {
            if (!only_texts && !strcmp(a, "-")) from_stdin = true;
            else texts[n_texts++] = a;
        } else if (!strcmp(a, "--")) only_texts = true;
        else if (!strcmp(a, "--context")) {
            if (!cli_take_int(cmd, argc, argv, &i, &o.context)) rc = 2;
            else if (o.context < 2 || o.context > (1 << 20)) rc = cli_usage(cmd, "--context must be in 2..1048576");
        } else if (!strcmp(a, "--json")) o.json = true;
        else if (!strcmp(a, "--raw")) o.raw = true;
        else if (!strcmp(a, "--trim")) o.trim = true;
        else rc = cli_usage(cmd, "unknown option '%s'", a);
    }
    if (rc == 0 && !n_texts && !from_stdin) rc = cli_usage(cmd, "TEXT is required (or '-' to read lines from stdin)");
    if (rc == 0 && n_texts && from_stdin) rc = cli_usage(cmd, "give TEXT arguments or '-', not both");
    if (rc == 0 && from_stdin) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while (rc == 0 && (len = getline(&line, &cap, stdin)) >= 0) {
            if (len > 0 && line[len - 1] == '\n') len--;
            rc = emit(cmd, line, (size_t)len, &o);
        }
        free(line);
    }
    for (int i = 0; i < n_texts && rc == 0; i++) rc = emit(cmd, texts[i], strlen(texts[i]), &o);
    if (o.json && rc == 0) fputs(o.printed ? "]\n" : "[]\n", stdout);
    free(texts);
    return rc;
}
