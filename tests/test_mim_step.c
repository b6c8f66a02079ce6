/* test_mim_step.c — `eva mim-step` against the PyTorch float64 golden MIM step
 * (README-train-clip §1; fixtures in data/train_mim/, the golden file split in two parts).
 * Runs the CLI (fast kernels, reference kernels, clipping 0.5) and checks with the §1.7
 * tolerances: pred max|diff| <= 1e-5 max|ref|, loss |diff| <= 1e-6 (vs the float64 text of
 * mim_step.json), each grad.* <= 2e-5 max|ref of that tensor|, after.* / after_clip.* (stored
 * prefixes) |diff| <= 1e-5, grad total norm relative 1e-5. Then bad inputs: one error line,
 * non-zero exit, no output file. */
#include "test_util.h"

#include <unistd.h>

#define DIR "data/train_mim/"
static const char *const PARTS[2] = {DIR "mim_step.part0.safetensors", DIR "mim_step.part1.safetensors"};
static eva_tensor_file *g_gold[2];

/* Look a tensor up in either golden part and convert it to float (malloc'd). */
static float *gold(const char *name, int64_t *n_out) {
    eva_tensor_view v;
    for (int i = 0; i < 2; i++)
        if (eva_tensor_file_find(g_gold[i], name, &v) == EVA_OK) {
            int64_t n = 1;
            for (int d = 0; d < v.ndim; d++) n *= v.shape[d];
            float *f = malloc(sizeof(float) * (size_t)(n ? n : 1));
            if (eva_tensor_convert_f32(&v, f) != EVA_OK) {
                free(f);
                return NULL;
            }
            *n_out = n;
            return f;
        }
    return NULL;
}

static double read_f64(eva_tensor_file *f, const char *name) {
    eva_tensor_view v;
    if (eva_tensor_file_find(f, name, &v) != EVA_OK || v.dtype != EVA_F64) return NAN;
    double d;
    memcpy(&d, v.data, sizeof d);
    return d;
}

static int run(const char *args, const char *out) {
    char cmd[2048];
    const char *bin = getenv("EVA_BIN");
    snprintf(cmd, sizeof cmd, "%s mim-step --model " DIR "mim_student_init.safetensors %s -o %s 2>%s/mim_err.txt",
             bin ? bin : "../build/eva", args, out, test_tmp_dir());
    int rc = system(cmd);
    return rc;
}

/* Compare one CLI output against the golden tensors. after_prefix: "after." or "after_clip.". */
static void check_output(const char *label, const char *out, const char *after_prefix, double loss_ref,
                         double norm_ref) {
    eva_tensor_file *f = NULL;
    CHECK_OK(eva_tensor_file_open(out, &f));
    if (!f) return;
    printf("--- %s\n", label);
    double loss = read_f64(f, "output.loss_f64");
    CHECK(fabs(loss - loss_ref) <= 1e-6, "%s: loss %.12g vs %.12g", label, loss, loss_ref);
    printf("loss %.12g vs %.12g: |diff| %.2e\n", loss, loss_ref, fabs(loss - loss_ref));
    double norm = read_f64(f, "output.grad_total_norm_f64");
    CHECK(fabs(norm - norm_ref) <= 1e-5 * norm_ref, "%s: grad norm %.12g vs %.12g", label, norm, norm_ref);
    double worst_grad = 0, worst_after = 0;
    int n_tensors = 0;
    for (int i = 0; i < eva_tensor_file_count(f); i++) {
        eva_tensor_view v;
        if (eva_tensor_file_get(f, i, &v) != EVA_OK) continue;
        const char *name = v.name;
        char gname[200];
        double tol;
        bool prefix = false;
        if (!strcmp(name, "output.pred")) {
            snprintf(gname, sizeof gname, "%s", name);
            tol = 1e-5;
        } else if (!strncmp(name, "grad.", 5)) {
            snprintf(gname, sizeof gname, "%s", name);
            tol = 2e-5;
        } else if (!strncmp(name, "after.", 6)) {
            snprintf(gname, sizeof gname, "%s%s", after_prefix, name + 6);
            tol = 1e-5;   /* absolute */
            prefix = true;
        } else {
            continue;
        }
        int64_t ng = 0;
        float *ref = gold(gname, &ng);
        CHECK(ref != NULL, "golden tensor %s missing", gname);
        if (!ref) continue;
        int64_t n = 1;
        for (int d = 0; d < v.ndim; d++) n *= v.shape[d];
        CHECK(prefix ? ng <= n : ng == n, "%s: %lld elements vs golden %lld", name, (long long)n, (long long)ng);
        float *got = malloc(sizeof(float) * (size_t)n);
        eva_tensor_convert_f32(&v, got);
        if (prefix) {
            double md = 0;
            for (int64_t k = 0; k < ng && k < n; k++) md = fmax(md, fabs((double)got[k] - ref[k]));
            if (!(md <= tol)) {
                g_test_failures++;
                fprintf(stderr, "TENSOR FAIL %s: max|diff| %.3e > %.1e\n", name, md, tol);
            }
            g_test_checks++;
            worst_after = fmax(worst_after, md);
        } else if (ng == n) {
            double mr = 0, md = 0;
            for (int64_t k = 0; k < n; k++) {
                mr = fmax(mr, fabs((double)ref[k]));
                md = fmax(md, fabs((double)got[k] - ref[k]));
            }
            if (!strcmp(name, "output.pred"))
                test_compare(name, got, ref, (size_t)n, tol);
            else {
                g_test_checks++;
                if (!(md <= tol * mr)) {
                    g_test_failures++;
                    fprintf(stderr, "TENSOR FAIL %s: max|diff| %.3e max|ref| %.3e\n", name, md, mr);
                }
                worst_grad = fmax(worst_grad, mr > 0 ? md / mr : md);
            }
        }
        n_tensors++;
        free(got);
        free(ref);
    }
    CHECK(n_tensors == 1 + 2 * 48, "%s: compared %d tensors, expected 97 (pred + 48 grad + 48 after)", label, n_tensors);
    printf("grad.* worst max|diff|/max|ref| %.2e (tol 2e-5); %s* worst max|diff| %.2e (tol 1e-5)\n", worst_grad,
           after_prefix, worst_after);
    eva_tensor_file_close(f);
}

/* Write a copy of the golden inputs with one tensor replaced / dropped, run, expect failure. */
static void expect_failure(const char *label, const char *drop, const char *replace, eva_dtype dt, int ndim,
                           const int64_t *shape, const void *data) {
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/mim_bad_in.safetensors", test_tmp_dir());
    snprintf(out, sizeof out, "%s/mim_bad_out.safetensors", test_tmp_dir());
    unlink(out);
    eva_tensor_writer *w = NULL;
    CHECK_OK(eva_tensor_writer_create(&w));
    const char *names[3] = {"input.images", "input.bool_masked_pos", "input.teacher_features"};
    for (int i = 0; i < 3; i++) {
        if (drop && !strcmp(drop, names[i])) continue;
        if (replace && !strcmp(replace, names[i])) {
            CHECK_OK(eva_tensor_writer_add(w, names[i], dt, ndim, shape, data));
            continue;
        }
        eva_tensor_view v;
        CHECK_OK(eva_tensor_file_find(g_gold[0], names[i], &v));
        CHECK_OK(eva_tensor_writer_add(w, names[i], v.dtype, v.ndim, v.shape, v.data));
    }
    CHECK_OK(eva_tensor_writer_save(w, in));
    eva_tensor_writer_free(w);
    char args[600];
    snprintf(args, sizeof args, "--input %s -t 1", in);
    int rc = run(args, out);
    CHECK(rc != 0, "%s: expected a non-zero exit", label);
    CHECK(access(out, F_OK) != 0, "%s: an output file was written", label);
    char errp[512], line[1024] = "";
    snprintf(errp, sizeof errp, "%s/mim_err.txt", test_tmp_dir());
    FILE *ef = fopen(errp, "r");
    int lines = 0;
    if (ef) {
        char buf[1024];
        while (fgets(buf, sizeof buf, ef)) {
            if (!lines) snprintf(line, sizeof line, "%s", buf);
            lines++;
        }
        fclose(ef);
    }
    CHECK(lines == 1 && !strncmp(line, "eva mim-step:", 13), "%s: expected one 'eva mim-step:' line, got %d: %s",
          label, lines, line);
    printf("bad input (%s): rc %d, %s", label, rc, line);
}

int main(void) {
    for (int i = 0; i < 2; i++) CHECK_OK(eva_tensor_file_open(PARTS[i], &g_gold[i]));
    if (!g_gold[0] || !g_gold[1]) return test_finish("test_mim_step");
    /* float64 loss text from the json (the golden file's loss_f64 must agree) */
    FILE *jf = fopen(DIR "mim_step.json", "r");
    char *json = calloc(1, 1 << 16);
    if (jf) {
        size_t nread = fread(json, 1, (1 << 16) - 1, jf);
        json[nread] = 0;
        fclose(jf);
    }
    const char *lp = strstr(json, "\"loss_f64\": \"");
    double loss_ref = lp ? strtod(lp + 13, NULL) : NAN;
    const char *np = strstr(json, "\"grad_total_norm_f64\": \"");
    double norm_ref = np ? strtod(np + 24, NULL) : NAN;
    free(json);
    CHECK(fabs(loss_ref - 0.0073399789490729336) < 1e-15, "json loss %.17g", loss_ref);
    CHECK(fabs(read_f64(g_gold[0], "output.loss_f64") - loss_ref) < 1e-15, "golden loss_f64 disagrees with json");

    char out[512], args[512];
    snprintf(out, sizeof out, "%s/mim_out.safetensors", test_tmp_dir());
    snprintf(args, sizeof args, "--input " DIR "mim_step.part0.safetensors -t 2");
    CHECK(run(args, out) == 0, "mim-step (fast kernels) failed");
    check_output("fast kernels, clip 3.0", out, "after.", loss_ref, norm_ref);
    snprintf(args, sizeof args, "--input " DIR "mim_step.part0.safetensors -t 2 --clip-grad 0.5");
    CHECK(run(args, out) == 0, "mim-step --clip-grad 0.5 failed");
    check_output("fast kernels, clip 0.5", out, "after_clip.", loss_ref, norm_ref);
    snprintf(args, sizeof args, "--input " DIR "mim_step.part0.safetensors -t 1 --reference");
    CHECK(run(args, out) == 0, "mim-step --reference failed");
    check_output("reference kernels, clip 3.0", out, "after.", loss_ref, norm_ref);

    /* help text */
    char hcmd[1024];
    snprintf(hcmd, sizeof hcmd, "%s help mim-step | grep -q 'input.bool_masked_pos'", getenv("EVA_BIN") ? getenv("EVA_BIN") : "../build/eva");
    CHECK(system(hcmd) == 0, "eva help mim-step does not describe the inputs");

    /* bad inputs */
    expect_failure("missing teacher", "input.teacher_features", NULL, EVA_F32, 0, NULL, NULL);
    uint8_t mask[2 * 64];
    eva_tensor_view mv;
    CHECK_OK(eva_tensor_file_find(g_gold[0], "input.bool_masked_pos", &mv));
    memcpy(mask, mv.data, sizeof mask);
    mask[5] = 2;
    int64_t ms[2] = {2, 64};
    expect_failure("mask value 2", NULL, "input.bool_masked_pos", EVA_U8, 2, ms, mask);
    int64_t ms2[2] = {2, 49};
    expect_failure("mask grid 7x7", NULL, "input.bool_masked_pos", EVA_U8, 2, ms2, mask);
    memset(mask, 0, sizeof mask);
    expect_failure("nothing masked", NULL, "input.bool_masked_pos", EVA_U8, 2, ms, mask);
    static float img[2 * 3 * 96 * 96];
    int64_t is[4] = {2, 3, 96, 96};
    expect_failure("image 96 px", NULL, "input.images", EVA_F32, 4, is, img);
    static float tf[2 * 64 * 32];
    int64_t ts[3] = {2, 64, 32};
    expect_failure("teacher dim 32", NULL, "input.teacher_features", EVA_F32, 3, ts, tf);

    for (int i = 0; i < 2; i++) eva_tensor_file_close(g_gold[i]);
    return test_finish("test_mim_step");
}
