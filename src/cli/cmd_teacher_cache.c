/* cmd_teacher_cache.c — `eva teacher-cache`: run the frozen MIM teacher once over exactly the
 * augmented crops a later `eva pretrain --teacher-cache` run will draw, and store its features
 * (format and checks: src/train/teacher_cache.h). */
#include "cli.h"
#include "train/teacher_cache.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

const char help_teacher_cache[] =
    "usage: eva teacher-cache --teacher T --data DATA -o CACHE [options]\n"
    "\n"
    "Precompute the MIM teacher's patch features for a pre-training run: the pre-training loader's\n"
    "seeded augmentation stream (epoch order, flip, RandomResizedCrop) is replayed for the same\n"
    "--data --size --batch --seed on one process, the teacher runs on every crop, and the features\n"
    "are stored per (step, sample). Then\n"
    "  eva pretrain --data DATA --teacher-cache CACHE --size S --batch B --seed X ...\n"
    "reads them instead of running the teacher (bit-identical weights with --dtype f32). A cache\n"
    "made for another data set, size, batch, seed or with fewer steps than the run needs is refused;\n"
    "every step also checks the sample indices and a hash of each augmented image.\n"
    "\n"
    "  --teacher T        CLIP vision tower or EVA checkpoint, as eva pretrain --teacher\n"
    "  --teacher-block K  EVA teacher: features after block K (default: final tokens)\n"
    "  --data DATA        image folder, IDX file or fashion-mnist:train, as eva pretrain\n"
    "  --size S           crop size in pixels (default 224)\n"
    "  --batch B, -b B    images per step (default 32; must equal pretrain's --batch)\n"
    "  --steps N          cache N optimizer steps, or\n"
    "  --epochs E         E epochs (N = E x floor(images / B)); one of the two is required\n"
    "  --seed S           the pre-training seed (default 0)\n"
    "  --dtype f32|f16    stored precision (default f32: exactly the online targets; f16 halves\n"
    "                     the file and rounds the targets to half precision)\n"
    "  -t N               teacher threads (default: all cores); --loader-threads N (default 1)\n"
    "  -o CACHE           output file (written to a temp file, renamed when complete)\n"
    "\n"
    "size: 4096 + N x B x (16 + G*G x D x e) bytes, G*G the teacher's patches at S px, D its\n"
    "feature width, e = 4 (f32) or 2 (f16); e.g. ViT-Ti teacher at 224 px (196 x 192), f16:\n"
    "75 KB per image. Ctrl-C stops without leaving a file.\n";

static const char *CMD = "teacher-cache";
static volatile sig_atomic_t g_stop;
static void on_sigint(int sig) { (void)sig; g_stop = 1; }

typedef struct progress_state {
    bool tty;
    int64_t last_print;
} progress_state;

static void progress(const eva_train_progress *p, void *user) {
    progress_state *s = user;
    if (p->event) {
        fprintf(stderr, "%seva %s: %s\n", s->tty ? "\r\033[K" : "", CMD, p->message);
        return;
    }
    int eta = (int)p->eta_s;
    if (s->tty) {
        fprintf(stderr, "\r\033[Kstep %lld/%lld  epoch %lld  %.1f img/s  ETA %d:%02d:%02d", (long long)p->step,
                (long long)p->total_steps, (long long)p->epoch, p->images_per_s, eta / 3600, eta / 60 % 60, eta % 60);
        if (p->step == p->total_steps) fputc('\n', stderr);
    } else if (p->step - s->last_print >= 50 || p->step == p->total_steps) {
        fprintf(stderr, "step %lld/%lld %.1f img/s\n", (long long)p->step, (long long)p->total_steps, p->images_per_s);
        s->last_print = p->step;
    }
}

int cmd_teacher_cache(int argc, char **argv) {
    eva_teacher_cache_config c = eva_teacher_cache_defaults();
    const char *dtype = "f32";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        double dv;
        if (!strcmp(a, "--teacher")) ok = cli_take_str(CMD, argc, argv, &i, &c.teacher);
        else if (!strcmp(a, "--data")) ok = cli_take_str(CMD, argc, argv, &i, &c.data);
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) ok = cli_take_str(CMD, argc, argv, &i, &c.out);
        else if (!strcmp(a, "--dtype")) ok = cli_take_str(CMD, argc, argv, &i, &dtype);
        else if (!strcmp(a, "--teacher-block")) ok = cli_take_int(CMD, argc, argv, &i, &c.teacher_block);
        else if (!strcmp(a, "--size")) ok = cli_take_int(CMD, argc, argv, &i, &c.size);
        else if (!strcmp(a, "--batch") || !strcmp(a, "-b")) ok = cli_take_int(CMD, argc, argv, &i, &c.batch);
        else if (!strcmp(a, "--epochs")) ok = cli_take_int(CMD, argc, argv, &i, &c.epochs);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) ok = cli_take_int(CMD, argc, argv, &i, &c.threads);
        else if (!strcmp(a, "--loader-threads")) ok = cli_take_int(CMD, argc, argv, &i, &c.loader_threads);
        else if (!strcmp(a, "--steps")) {
            ok = cli_take_double(CMD, argc, argv, &i, &dv);
            if (ok && (dv < 1 || dv > 1e15 || dv != (double)(int64_t)dv)) return cli_usage(CMD, "--steps must be a positive integer");
            c.steps = (int64_t)dv;
        } else if (!strcmp(a, "--seed")) {
            ok = cli_take_double(CMD, argc, argv, &i, &dv);
            if (ok && (dv < 0 || dv > 1.8e19 || dv != (double)(uint64_t)dv)) return cli_usage(CMD, "--seed must be a non-negative integer");
            c.seed = (uint64_t)dv;
        } else
            return cli_usage(CMD, "unknown option '%s'", a);
        if (!ok) return 2;
    }
    if (!c.teacher) return cli_usage(CMD, "--teacher is required");
    if (!c.data) return cli_usage(CMD, "--data is required");
    if (!c.out) return cli_usage(CMD, "-o CACHE is required");
    if (c.steps == 0 && c.epochs == 0) return cli_usage(CMD, "--steps N or --epochs E is required");
    if (c.steps > 0 && c.epochs > 0) return cli_usage(CMD, "give --steps or --epochs, not both");
    if (c.size < 1 || c.batch < 1 || c.epochs < 0 || c.threads < 0 || c.loader_threads < 1 || c.teacher_block < -1)
        return cli_usage(CMD, "sizes, counts and threads must be positive");
    if (!strcmp(dtype, "f16")) c.f16 = true;
    else if (strcmp(dtype, "f32")) return cli_usage(CMD, "--dtype must be f32 or f16, got '%s'", dtype);
    c.stop = &g_stop;
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    progress_state ps = {cli_stderr_is_tty(), 0};
    double t0 = eva_now_seconds();
    eva_status st = eva_teacher_cache_build(&c, progress, &ps);
    if (st == EVA_ERR_CANCELLED) {
        fprintf(stderr, "%seva %s: %s\n", ps.tty ? "\n" : "", CMD, eva_last_error());
        return 130;
    }
    if (st != EVA_OK) {
        if (ps.tty) fputc('\n', stderr);
        return cli_lib_error(CMD, st);
    }
    /* report what was written, from the file itself */
    eva_teacher_cache *tc = NULL;
    if ((st = eva_teacher_cache_open(c.out, &tc)) != EVA_OK) return cli_lib_error(CMD, st);
    const eva_teacher_cache_info *i = eva_teacher_cache_get_info(tc);
    fprintf(stderr, "eva %s: wrote %s: %lld steps x %d images, %d x %d %s features each (%s teacher), %.1f MB in %.1f s\n", CMD,
            c.out, (long long)i->steps, i->batch, i->rows, i->dim, i->f16 ? "f16" : "f32", i->teacher_kind,
            (double)i->file_bytes / 1e6, eva_now_seconds() - t0);
    eva_teacher_cache_free(tc);
    return 0;
}
