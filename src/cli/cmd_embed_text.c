/* cmd_embed_text.c — `eva embed-text`: EVA-CLIP text embeddings of texts into a .npy file. */
#include "cli_clip.h"
#include "io/npy.h"

#include <stdlib.h>
#include <string.h>

const char help_embed_text[] =
    "usage: eva embed-text --model CLIP [-o OUT.npy] [--raw] [-t N] TEXT...\n"
    "       eva embed-text --model CLIP -o OUT.npy [options] -     (one text per line from stdin)\n"
    "       eva embed-text --model CLIP -o OUT.npy [options] --file TEXTS.txt\n"
    "\n"
    "Encodes each TEXT with the EVA-CLIP text tower (CLIP BPE tokenizer, 77 tokens, longer texts\n"
    "truncated) and writes a float32 [n, E] .npy (numpy.load-compatible), one row per text in\n"
    "order, L2-normalised unless --raw. Without -o the rows are printed, one per line. Empty\n"
    "texts are valid (start + end-of-text tokens only); lines read from a file or stdin are kept\n"
    "as they are (blank lines included) so row i is line i.\n";

int cmd_embed_text(int argc, char **argv) {
    const char *cmd = "embed-text", *model = NULL, *outp = NULL, *file = NULL;
    int threads = 0, n = 0, rc = 0;
    bool raw = false, only = false;
    char **texts = calloc((size_t)argc, sizeof *texts), **lines = NULL;
    if (!texts) return cli_error(cmd, "out of memory");
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (only || a[0] != '-' || !a[1]) {
            if (!only && !strcmp(a, "-")) file = "-";
            else texts[n++] = argv[i];
        } else if (!strcmp(a, "--")) only = true;
        else if (!strcmp(a, "--model") || !strcmp(a, "-m")) ok = cli_take_str(cmd, argc, argv, &i, &model);
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) ok = cli_take_str(cmd, argc, argv, &i, &outp);
        else if (!strcmp(a, "--file")) ok = cli_take_str(cmd, argc, argv, &i, &file);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) ok = cli_take_int(cmd, argc, argv, &i, &threads);
        else if (!strcmp(a, "--raw")) raw = true;
        else rc = cli_usage(cmd, "unknown option '%s'", a);
        if (!ok) rc = 2;
    }
    if (!rc && file && n) rc = cli_usage(cmd, "give texts as arguments or with --file/-, not both");
    int n_lines = 0;
    if (!rc && file) {
        rc = cli_read_lines(cmd, file, false, &lines, &n_lines);
        n = n_lines;
    }
    char **list = file ? lines : texts;
    if (!rc && n == 0) rc = cli_usage(cmd, "no TEXT given");
    eva_clip *c = NULL;
    if (!rc && !(c = cli_clip_open(cmd, model, threads, 0))) rc = 1;
    eva_npy_writer *w = NULL;
    float *emb = NULL;
    if (!rc) {
        eva_clip_info ci;
        eva_clip_get_info(c, &ci);
        int E = ci.embed_dim, chunk = 256;
        emb = malloc(sizeof(float) * (size_t)chunk * E);
        eva_status st = emb ? EVA_OK : EVA_ERR_NOMEM;
        if (st == EVA_OK && outp) st = eva_npy_writer_open(outp, E, false, &w);
        for (int a = 0; a < n && st == EVA_OK; a += chunk) {
            int cnt = EVA_MIN(chunk, n - a);
            st = eva_clip_encode_texts(c, (const char *const *)list + a, cnt, raw ? emb : NULL, raw ? NULL : emb);
            if (st == EVA_OK && w) st = eva_npy_writer_append(w, emb, cnt);
            for (int r = 0; st == EVA_OK && !w && r < cnt; r++)
                for (int d = 0; d < E; d++) printf(d ? " %.9g" : "%.9g", emb[(size_t)r * E + d]), d == E - 1 ? putchar('\n') : 0;
        }
        if (w) {
            if (st == EVA_OK) st = eva_npy_writer_close(w);
            else eva_npy_writer_abandon(w);
            if (st != EVA_OK && outp) {
                /* no partial output: drop the resumable part file */
                size_t len = strlen(outp) + 16;
                char *part = malloc(len);
                if (part) snprintf(part, len, "%s.partial", outp), remove(part), free(part);
            }
        }
        if (st != EVA_OK) rc = cli_lib_error(cmd, st);
    }
    free(emb);
    eva_clip_free(c);
    if (lines) cli_free_lines(lines, n_lines);
    free(texts);
    return rc;
}
