/* cmd_search.c — `eva search`: rank an index of image embeddings (.npy) against a text (or an
 * image) query with EVA-CLIP. */
#include "cli_clip.h"
#include "io/npy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char help_search[] =
    "usage: eva search --model CLIP --index IMAGES.npy --paths IMAGES.txt (\"QUERY TEXT\" | --image IMG)\n"
    "                  [-k 10] [--json] [--preset NAME] [-t N]\n"
    "\n"
    "Cosine-similarity search: IMAGES.npy is a float32 [n, E] matrix of EVA-CLIP image embeddings\n"
    "(rows are L2-normalised here, so raw projections work too); IMAGES.txt has n lines, line i\n"
    "naming row i. The query is a text (CLIP tokenizer, text tower) or, with --image, an image\n"
    "(a picture file or a preprocessed FILE.safetensors, as in `eva zeroshot`). Prints the k best\n"
    "rows: rank, cosine similarity, path.\n";

typedef struct { float s; int i; } hit;
static int by_score(const void *a, const void *b) {
    const hit *x = a, *y = b;
    return x->s < y->s ? 1 : x->s > y->s ? -1 : x->i - y->i;
}

int cmd_search(int argc, char **argv) {
    const char *cmd = "search", *model = NULL, *index = NULL, *paths_f = NULL, *image = NULL, *query = NULL,
               *preset = NULL;
    int threads = 0, k = 10, rc = 0, n_paths = 0;
    bool json = false;
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "--model") || !strcmp(a, "-m")) ok = cli_take_str(cmd, argc, argv, &i, &model);
        else if (!strcmp(a, "--index")) ok = cli_take_str(cmd, argc, argv, &i, &index);
        else if (!strcmp(a, "--paths")) ok = cli_take_str(cmd, argc, argv, &i, &paths_f);
        else if (!strcmp(a, "--image")) ok = cli_take_str(cmd, argc, argv, &i, &image);
        else if (!strcmp(a, "--preset")) ok = cli_take_str(cmd, argc, argv, &i, &preset);
        else if (!strcmp(a, "-k")) ok = cli_take_int(cmd, argc, argv, &i, &k);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) ok = cli_take_int(cmd, argc, argv, &i, &threads);
        else if (!strcmp(a, "--json")) json = true;
        else if (a[0] == '-' && a[1]) rc = cli_usage(cmd, "unknown option '%s'", a);
        else if (query) rc = cli_usage(cmd, "one query text only (quote it)");
        else query = a;
        if (!ok) rc = 2;
    }
    if (rc) return rc;
    if (!index || !paths_f) return cli_usage(cmd, "--index and --paths are required");
    if (!query == !image) return cli_usage(cmd, "give a query text or --image, not both");
    if (k < 1) return cli_usage(cmd, "-k must be >= 1");
    eva_npy_array idx = {0};
    char **paths = NULL;
    eva_clip *c = NULL;
    float *q = NULL;
    hit *hits = NULL;
    cli_images im = {0};
    eva_status st = eva_npy_read_f32(index, &idx);
    if (st != EVA_OK) return cli_lib_error(cmd, st);
    if ((rc = cli_read_lines(cmd, paths_f, false, &paths, &n_paths))) goto done;
    if (n_paths != idx.rows) {
        rc = cli_error(cmd, "%s has %d lines but %s has %lld rows", paths_f, n_paths, index, (long long)idx.rows);
        goto done;
    }
    if (!(c = cli_clip_open(cmd, model, threads, 0))) { rc = 1; goto done; }
    eva_clip_info ci;
    eva_clip_get_info(c, &ci);
    int E = ci.embed_dim;
    if (idx.cols != E) {
        rc = cli_error(cmd, "%s has %lld columns but the model's embeddings have %d", index, (long long)idx.cols, E);
        goto done;
    }
    q = malloc(sizeof(float) * (size_t)E);
    hits = malloc(sizeof(hit) * (size_t)(idx.rows ? idx.rows : 1));
    if (!q || !hits) { rc = cli_error(cmd, "out of memory"); goto done; }
    if (query) {
        st = eva_clip_encode_texts(c, &query, 1, NULL, q);
    } else {
        char *args[1] = {(char *)image};
        if ((rc = cli_images_load(cmd, &ci, preset, args, 1, &im))) goto done;
        if (im.n != 1) { rc = cli_error(cmd, "--image must be one image"); goto done; }
        st = eva_clip_encode_images(c, im.pixels, 1, im.S, NULL, q);
    }
    if (st != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
    for (int64_t r = 0; r < idx.rows; r++) {
        const float *x = idx.data + r * E;
        double dot = 0, nn = 0;
        for (int d = 0; d < E; d++) dot += (double)x[d] * q[d], nn += (double)x[d] * x[d];
        hits[r] = (hit){(float)(dot / fmax(sqrt(nn), 1e-12)), (int)r};
    }
    qsort(hits, (size_t)idx.rows, sizeof *hits, by_score);
    if (k > idx.rows) k = (int)idx.rows;
    if (json) fputs("[", stdout);
    for (int r = 0; r < k; r++) {
        if (json) {
            printf("%s{\"rank\": %d, \"row\": %d, \"score\": %.9g, \"path\": ", r ? ", " : "", r + 1, hits[r].i, hits[r].s);
            cli_json_string(stdout, paths[hits[r].i]);
            fputs("}", stdout);
        } else {
            printf("%3d  %.6f  %s\n", r + 1, hits[r].s, paths[hits[r].i]);
        }
    }
    if (json) fputs("]\n", stdout);
done:
    cli_images_free(&im);
    eva_npy_array_free(&idx);
    if (paths) cli_free_lines(paths, n_paths);
    eva_clip_free(c);
    free(q), free(hits);
    return rc;
}
