/* cmd_embed.c — `eva embed`: embeddings for many images, streamed to disk so memory stays flat,
 * resumable after an interruption, with a companion file of the image paths in row order. */
#include "cli.h"
#include "cli_images.h"
#include "cli_model.h"
#include "base/base.h"
#include "io/npy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char help_embed[] =
    "usage: eva embed --model M (IMAGE|DIR|@LIST)... -o OUT.npy [--pool cls|mean|prelogits|tokens]\n"
    "                 [--block K] [--format npy|safetensors|jsonl] [-b 8] [-t THREADS] [--resume]\n"
    "                 [--paths-out FILE] [--skip-bad] [preprocessing and model options as in\n"
    "                 'eva help classify']\n"
    "\n"
    "Writes one row per readable image, in input order (directories walked recursively, sorted).\n"
    "Default pooling: a CLIP vision tower gives its L2-normalised image embedding (the projection);\n"
    "other models give pre-logits (fc_norm of the patch-token mean; with --block K: the cls token\n"
    "of block K). cls = token 0 (after the final norm where the model has one), mean = mean of\n"
    "the patch tokens, tokens = all N+1 tokens flattened.\n"
    "Output: npy (float32 [rows, dim], streamed: rows are appended batch by batch and the header\n"
    "kept current, so memory stays flat), jsonl (one {\"path\", \"embedding\"} object per line,\n"
    "streamed), safetensors (tensor 'embeddings', written at the end). The file appears under its\n"
    "name only when complete; until then it is OUT.partial. The image paths of the rows go to\n"
    "OUT.paths.txt (or --paths-out). --resume continues an interrupted npy run after its last\n"
    "complete row and gives the same file as an uninterrupted run. Unreadable images are\n"
    "reported, skipped and listed at the end; the exit status is then non-zero unless --skip-bad.\n"
    "A progress line (images/s, ETA) is shown when stderr is a terminal.\n";

typedef enum { FMT_NPY, FMT_SAFETENSORS, FMT_JSONL } out_format;

static int read_lines(const char *path, cli_paths *out) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (!n || line[n - 1] != '\n') break;   /* a torn last line does not count */
        line[n - 1] = 0;
        char *arg = malloc(n + 1);
        if (!arg) break;
        arg[0] = 0;
        strcat(arg, line);
        if (out->n == out->cap) {
            int nc = out->cap ? out->cap * 2 : 256;
            char **v = realloc(out->v, sizeof(char *) * (size_t)nc);
            if (!v) { free(arg); break; }
            out->v = v;
            out->cap = nc;
        }
        out->v[out->n++] = arg;
    }
    fclose(f);
    return 0;
}

static void progress(int done, int total, double t0) {
    double el = eva_now_seconds() - t0, rate = el > 0 ? done / el : 0;
    int eta = rate > 0 ? (int)((total - done) / rate) : 0;
    fprintf(stderr, "\r  %d/%d images  %.1f img/s  ETA %d:%02d:%02d   ", done, total, rate, eta / 3600, eta / 60 % 60, eta % 60);
    fflush(stderr);
}

int cmd_embed(int argc, char **argv) {
    const char *cmd = "embed", *out_path = NULL, *pool_name = NULL, *fmt_name = "npy", *paths_out = NULL;
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    cli_pre_opts po;
    cli_pre_opts_init(&po);
    cli_paths paths = {0}, done_paths = {0}, bad = {0};
    int batch = 8, block = -1, rc = 0;
    bool resume = false, skip_bad = false;
    for (int i = 1; i < argc; i++) {
        int r = cli_model_opts_parse(cmd, &mo, argc, argv, &i);
        if (r == 0) r = cli_pre_opts_parse(cmd, &po, argc, argv, &i);
        if (r < 0) { cli_paths_free(&paths); return 2; }
        if (r > 0) continue;
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) ok = cli_take_str(cmd, argc, argv, &i, &out_path);
        else if (!strcmp(a, "--pool")) ok = cli_take_str(cmd, argc, argv, &i, &pool_name);
        else if (!strcmp(a, "--format")) ok = cli_take_str(cmd, argc, argv, &i, &fmt_name);
        else if (!strcmp(a, "--paths-out")) ok = cli_take_str(cmd, argc, argv, &i, &paths_out);
        else if (!strcmp(a, "--block")) ok = cli_take_int(cmd, argc, argv, &i, &block);
        else if (!strcmp(a, "-b") || !strcmp(a, "--batch")) {
            ok = cli_take_int(cmd, argc, argv, &i, &batch);
            if (ok && (batch < 1 || batch > 1024)) { cli_paths_free(&paths); return cli_usage(cmd, "-b must be in 1..1024"); }
        } else if (!strcmp(a, "--resume")) resume = true;
        else if (!strcmp(a, "--skip-bad")) skip_bad = true;
        else if (a[0] == '-' && a[1]) { cli_paths_free(&paths); return cli_usage(cmd, "unknown option '%s'", a); }
        else if (cli_paths_add(cmd, &paths, a)) { cli_paths_free(&paths); return 1; }
        if (!ok) { cli_paths_free(&paths); return 2; }
    }
    eva_embed_pool pool = EVA_EMBED_DEFAULT;
    out_format fmt = FMT_NPY;
    if (!out_path) rc = cli_usage(cmd, "-o OUT is required");
    else if (cli_model_opts_check(cmd, &mo)) rc = 2;
    else if (paths.n == 0) rc = cli_usage(cmd, "no images given");
    else if (pool_name && !strcmp(pool_name, "cls")) pool = EVA_EMBED_CLS;
    else if (pool_name && !strcmp(pool_name, "mean")) pool = EVA_EMBED_MEAN;
    else if (pool_name && !strcmp(pool_name, "prelogits")) pool = EVA_EMBED_PRELOGITS;
    else if (pool_name && !strcmp(pool_name, "tokens")) pool = EVA_EMBED_TOKENS;
    else if (pool_name) rc = cli_usage(cmd, "--pool must be cls, mean, prelogits or tokens, got '%s'", pool_name);
    if (!rc) {
        if (!strcmp(fmt_name, "npy")) fmt = FMT_NPY;
        else if (!strcmp(fmt_name, "safetensors")) fmt = FMT_SAFETENSORS;
        else if (!strcmp(fmt_name, "jsonl")) fmt = FMT_JSONL;
        else rc = cli_usage(cmd, "--format must be npy, safetensors or jsonl, got '%s'", fmt_name);
    }
    if (!rc && resume && fmt != FMT_NPY) rc = cli_usage(cmd, "--resume works with --format npy only");
    if (rc) { cli_paths_free(&paths); return rc; }

    char paths_final[4096], paths_partial[4200], jsonl_partial[4200];
    snprintf(paths_final, sizeof paths_final, "%s%s", paths_out ? paths_out : out_path, paths_out ? "" : ".paths.txt");
    snprintf(paths_partial, sizeof paths_partial, "%s.partial", paths_final);
    snprintf(jsonl_partial, sizeof jsonl_partial, "%s.partial", out_path);

    eva_model *model = NULL;
    eva_ctx *ctx = NULL;
    eva_npy_writer *npy = NULL;
    FILE *pf = NULL, *jf = NULL;
    float *images = NULL, *emb = NULL, *all = NULL;
    bool *ok = NULL;
    char **errors = NULL;
    size_t all_rows = 0, all_cap = 0;
    eva_status st;
    if (cli_model_open(cmd, &mo, &model) != EVA_OK) { rc = 1; goto done; }
    eva_model_info info;
    eva_model_get_info(model, &info);
    if (block >= info.depth) { rc = cli_usage(cmd, "--block %d out of range (0..%d)", block, info.depth - 1); goto done; }
    if (block >= 0 && pool == EVA_EMBED_PRELOGITS) { rc = cli_usage(cmd, "--pool prelogits cannot be combined with --block"); goto done; }
    int dim = eva_embed_dim(model, pool, block);
    eva_preprocess_params pp;
    if (cli_pre_resolve(cmd, &po, model, &pp)) { rc = 1; goto done; }
    size_t per = (size_t)3 * pp.size * pp.size;
    images = malloc(sizeof(float) * per * (size_t)batch);
    emb = malloc(sizeof(float) * (size_t)dim * (size_t)batch);
    ok = calloc((size_t)batch, sizeof(bool));
    errors = calloc((size_t)batch, sizeof(char *));
    if (!images || !emb || !ok || !errors) { rc = cli_error(cmd, "out of memory"); goto done; }

    int start_at = 0;
    if (fmt == FMT_NPY) {
        if ((st = eva_npy_writer_open(out_path, dim, resume, &npy)) != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
        int64_t rows = eva_npy_writer_rows(npy);
        if (rows > 0) {
            /* the rows already written are the first `rows` readable inputs: find where they end */
            if (read_lines(paths_partial, &done_paths) != 0) read_lines(paths_final, &done_paths);
            if (done_paths.n < rows) {
                rc = cli_error(cmd, "cannot resume: %s lists %d paths for %lld rows", paths_partial, done_paths.n, (long long)rows);
                goto done;
            }
            int j = 0;
            for (int i = 0; i < paths.n && j < rows; i++)
                if (!strcmp(paths.v[i], done_paths.v[j])) { j++; start_at = i + 1; }
            if (j < rows) { rc = cli_error(cmd, "cannot resume: the image list differs from the interrupted run"); goto done; }
            for (int i = (int)rows; i < done_paths.n; i++) free(done_paths.v[i]);
            done_paths.n = (int)rows;
            fprintf(stderr, "eva embed: resuming after %lld rows (%d images left)\n", (long long)rows, paths.n - start_at);
        }
        /* the companion must list exactly the rows kept: rewrite it through a temporary file
         * (a kill during the rewrite must not lose the list), then append */
        char tmp_list[4300];
        snprintf(tmp_list, sizeof tmp_list, "%s.tmp", paths_partial);
        FILE *tf = fopen(tmp_list, "w");
        bool wrote = tf != NULL;
        for (int i = 0; tf && i < done_paths.n; i++) wrote = fprintf(tf, "%s\n", done_paths.v[i]) > 0 && wrote;
        if (tf) wrote = fflush(tf) == 0 && fsync(fileno(tf)) == 0 && fclose(tf) == 0 && wrote;
        if (!wrote || rename(tmp_list, paths_partial) != 0) {
            remove(tmp_list);
            rc = cli_error(cmd, "%s: cannot write: %s", paths_partial, strerror(errno));
            goto done;
        }
        pf = fopen(paths_partial, "a");
    } else {
        pf = fopen(paths_partial, "w");
        if (fmt == FMT_JSONL) {
            jf = fopen(jsonl_partial, "w");
            if (!jf) { rc = cli_error(cmd, "%s: cannot write: %s", out_path, strerror(errno)); goto done; }
        }
    }
    if (!pf) { rc = cli_error(cmd, "%s: cannot write: %s", paths_final, strerror(errno)); goto done; }
    if ((st = eva_ctx_create(model, mo.threads, &ctx)) != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
    eva_image_options io = {.exif_rotate = po.exif_rotate};
    bool tty = cli_stderr_is_tty();
    double t0 = eva_now_seconds();
    int processed = 0, total = paths.n - start_at;
    for (int start = start_at; start < paths.n; start += batch) {
        int n = paths.n - start < batch ? paths.n - start : batch;
        cli_load_batch(paths.v + start, n, &pp, &io, mo.threads, images, ok, errors);
        int good = 0, idx[1024];
        for (int i = 0; i < n; i++) {
            if (!ok[i]) {
                fprintf(stderr, "%seva embed: skipping %s: %s\n", tty ? "\n" : "", paths.v[start + i], errors[i]);
                free(errors[i]);
                errors[i] = NULL;
                char *copy = strdup(paths.v[start + i]);
                if (copy && bad.n < 1 << 20) {
                    if (bad.n == bad.cap) {
                        bad.cap = bad.cap ? bad.cap * 2 : 16;
                        bad.v = realloc(bad.v, sizeof(char *) * (size_t)bad.cap);
                    }
                    if (bad.v) bad.v[bad.n++] = copy;
                }
                continue;
            }
            if (good != i) memcpy(images + per * good, images + per * i, sizeof(float) * per);
            idx[good++] = start + i;
        }
        if (good) {
            if ((st = eva_embed(ctx, images, good, pool, block, emb)) != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
            for (int g = 0; g < good; g++) fprintf(pf, "%s\n", paths.v[idx[g]]);
            if (fflush(pf) != 0) { rc = cli_error(cmd, "%s: write failed: %s", paths_partial, strerror(errno)); goto done; }
            if (fmt == FMT_NPY) {
                if ((st = eva_npy_writer_append(npy, emb, good)) != EVA_OK || (st = eva_npy_writer_flush(npy)) != EVA_OK) {
                    rc = cli_lib_error(cmd, st);
                    goto done;
                }
            } else if (fmt == FMT_JSONL) {
                for (int g = 0; g < good; g++) {
                    fputs("{\"path\": \"", jf);
                    for (const char *c = paths.v[idx[g]]; *c; c++) {
                        if (*c == '"' || *c == '\\') fprintf(jf, "\\%c", *c);
                        else if ((unsigned char)*c < 0x20) fprintf(jf, "\\u%04x", *c);
                        else fputc(*c, jf);
                    }
                    fputs("\", \"embedding\": [", jf);
                    for (int d = 0; d < dim; d++) fprintf(jf, d ? ", %.9g" : "%.9g", emb[(size_t)g * dim + d]);
                    fputs("]}\n", jf);
                }
                if (fflush(jf) != 0) { rc = cli_error(cmd, "%s: write failed: %s", out_path, strerror(errno)); goto done; }
            } else {
                if (all_rows + (size_t)good > all_cap) {
                    size_t nc = all_cap ? all_cap * 2 : 256;
                    while (nc < all_rows + (size_t)good) nc *= 2;
                    float *na = realloc(all, sizeof(float) * nc * (size_t)dim);
                    if (!na) { rc = cli_error(cmd, "out of memory"); goto done; }
                    all = na;
                    all_cap = nc;
                }
                memcpy(all + all_rows * (size_t)dim, emb, sizeof(float) * (size_t)good * dim);
                all_rows += (size_t)good;
            }
        }
        processed += n;
        if (tty) progress(processed, total, t0);
    }
    if (tty) fputc('\n', stderr);
    /* finish: data file first, then the companion */
    if (fmt == FMT_NPY) {
        st = eva_npy_writer_close(npy);
        npy = NULL;
        if (st != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
    } else if (fmt == FMT_JSONL) {
        bool werr = fflush(jf) != 0 || fsync(fileno(jf)) != 0;
        werr = fclose(jf) != 0 || werr;
        jf = NULL;
        if (werr || rename(jsonl_partial, out_path) != 0) { rc = cli_error(cmd, "%s: write failed: %s", out_path, strerror(errno)); goto done; }
    } else {
        eva_tensor_writer *w;
        if ((st = eva_tensor_writer_create(&w)) == EVA_OK) {
            st = eva_tensor_writer_add_view(w, "embeddings", EVA_F32, 2, (int64_t[]){(int64_t)all_rows, dim}, all ? all : emb);
            eva_tensor_writer_set_metadata(w, "eva.model", info.arch);
            if (st == EVA_OK) st = eva_tensor_writer_save(w, out_path);
            eva_tensor_writer_free(w);
        }
        if (st != EVA_OK) { rc = cli_lib_error(cmd, st); goto done; }
    }
    bool perr = fflush(pf) != 0 || fsync(fileno(pf)) != 0;
    perr = fclose(pf) != 0 || perr;
    pf = NULL;
    if (perr || rename(paths_partial, paths_final) != 0) { rc = cli_error(cmd, "%s: write failed: %s", paths_final, strerror(errno)); goto done; }
    if (bad.n) {
        fprintf(stderr, "eva embed: %d image(s) could not be read and were skipped:\n", bad.n);
        for (int i = 0; i < bad.n; i++) fprintf(stderr, "  %s\n", bad.v[i]);
        if (!skip_bad) rc = 1;
    }
done:
    if (npy) eva_npy_writer_abandon(npy);   /* keeps OUT.partial for --resume */
    if (pf) fclose(pf);
    if (jf) fclose(jf);
    if (rc && fmt != FMT_NPY) {   /* only npy runs are resumable: leave nothing half-written */
        remove(jsonl_partial);
        remove(paths_partial);
    }
    free(images);
    free(emb);
    free(all);
    free(ok);
    if (errors) for (int i = 0; i < batch; i++) free(errors[i]);
    free(errors);
    eva_ctx_free(ctx);
    eva_model_free(model);
    cli_paths_free(&paths);
    cli_paths_free(&done_paths);
    cli_paths_free(&bad);
    return rc;
}
