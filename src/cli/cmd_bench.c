/* cmd_bench.c — `eva bench`: inference speed of a model at a size and batch: warm-up, then
 * repetitions; prints ms/image, images/s, GFLOP/s (spec §1.4 FLOPs) and peak RSS. */
#include "cli.h"
#include "cli_model.h"
#include "base/base.h"
#include "ops/gemm.h"
#include "ops/gemm_lowp.h"
#include "ops/peak.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Process CPU seconds (all threads): on a shared machine, wall time / CPU time tells how much
 * of the wall clock the run actually got. */
static double cpu_seconds(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Hypervisor steal so far, in vCPU seconds summed over the machine's CPUs (Linux /proc/stat,
 * 8th field of the "cpu" line, in USER_HZ ticks); -1 where unavailable. On a VM it is the time the
 * host ran something else while our vCPUs wanted to run: the one number that says whether a slow
 * run was the machine's fault. */
static double steal_seconds(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                   &v[7]);
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    return n == 8 && hz > 0 ? (double)v[7] / (double)hz : -1;
}

static const char *dtype_key(eva_dtype dt) { return dt == EVA_BF16 ? "bf16" : dt == EVA_Q8 ? "q8" : "f32"; }

const char help_bench[] =
    "usage: eva bench (--synthetic --arch NAME | --model FILE) [--size S] [--batch B]\n"
    "                 [-t THREADS] [--reps R] [--warmup W] [--dtype f32|bf16|q8] [--layout rows|panels]\n"
    "                 [--json] [--profile]\n"
    "       eva bench --peak [-t THREADS] [--json]\n"
    "\n"
    "Measures the forward pass: builds the model (formula weights with --synthetic, so no\n"
    "download is needed), runs W warm-up passes (default 1) and R timed passes (default 3) on\n"
    "the golden formula input, and prints the median ms/image, images/s, GFLOP/s (FLOPs =\n"
    "2 x MACs of spec §1.4) and peak RSS. --json prints one JSON object per run with\n"
    "ms_per_image, images_per_s, gflops, peak_gflops, pct_of_peak, peak_rss_mb and the\n"
    "configuration, best_ms and best_pct_of_peak (the fastest pass against the same median peak),\n"
    "cpu_ms_per_image (process CPU time of the timed runs, all threads: compare\n"
    "it with ms_per_image on a shared machine) and, on Linux, steal_ms_per_image (hypervisor steal\n"
    "during the timed passes, vCPU time summed over the machine: large values mean a noisy VM).\n"
    "The peak is measured by a built-in probe (independent FMA chains on every\n"
    "thread, the rate a perfect fp32 kernel could reach), once before and once after every\n"
    "timed pass, and peak_gflops is the median (the VM's own speed drifts); --peak prints only that.\n"
    "--profile adds the time per op family: GEMM (GELU is fused into it), attention,\n"
    "LayerNorm, other.\n"
    "--dtype bf16|q8 runs the block matrices (qkv, proj, fc1, fc2) from bf16 weights or int8\n"
    "weights (per-channel scales, int8 activations, VNNI int32 sums); GFLOP/s still counts\n"
    "2 x MACs. bf16 math: vdpbf16ps on bf16-rounded activations where the CPU has avx512_bf16\n"
    "and a timed loop shows it beating the fp32 FMA (then measured against the bf16 dot-product\n"
    "peak, which --peak also prints), else the weights are widened to fp32. EVA_BF16=widen|dot|\n"
    "dot-force chooses (dot without the instruction runs an exact emulation, for accuracy\n"
    "studies; dot-force uses it even where the CPU hides the flag). Against the fp32 peak,\n"
    "bf16-widened and q8 shares are only indicative.\n"
    "--layout panels holds fp32 block matrices in the GEMM kernel's panel layout (no weight\n"
    "packing per call), as a file from `eva convert --layout panels` does by itself; with\n"
    "--synthetic the formula weights are generated that way, with a rows file they are packed\n"
    "at load (a copy; the file's pages are released). The header line and weight_layout in the\n"
    "JSON say which ran.\n"
    "Example: eva bench --arch eva_giant_patch14_224 --synthetic -t 2\n";

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int cmd_bench(int argc, char **argv) {
    const char *cmd = "bench";
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    int batch = 1, reps = 3, warmup = 1;
    bool json = false, peak_only = false, profile = false;
    for (int i = 1; i < argc; i++) {
        int r = cli_model_opts_parse(cmd, &mo, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "--batch") || !strcmp(argv[i], "-b")) {
            if (!cli_take_int(cmd, argc, argv, &i, &batch)) return 2;
            if (batch < 1 || batch > 4096) return cli_usage(cmd, "--batch must be in 1..4096");
        } else if (!strcmp(argv[i], "--reps")) {
            if (!cli_take_int(cmd, argc, argv, &i, &reps)) return 2;
            if (reps < 1 || reps > 1000) return cli_usage(cmd, "--reps must be in 1..1000");
        } else if (!strcmp(argv[i], "--warmup")) {
            if (!cli_take_int(cmd, argc, argv, &i, &warmup)) return 2;
            if (warmup < 0 || warmup > 100) return cli_usage(cmd, "--warmup must be in 0..100");
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--peak")) {
            peak_only = true;
        } else if (!strcmp(argv[i], "--profile")) {
            profile = true;
        } else {
            return cli_usage(cmd, "unknown option '%s'", argv[i]);
        }
    }
    int threads = mo.threads ? mo.threads : eva_cpu_count();
    eva_pool *probe_pool = NULL;
    if (eva_pool_create(threads, &probe_pool) != EVA_OK) return cli_lib_error(cmd, EVA_ERR_NOMEM);
    const char *isa = "?";
    double peak = eva_peak_fp32_gflops(probe_pool, 0.3, &isa);
    if (peak_only) {
        double bf16_peak = eva_peak_bf16_gflops(probe_pool, 0.3);
        eva_pool_free(probe_pool);
        if (json) {
            printf("{\"peak_gflops\":%.1f,\"threads\":%d,\"isa\":\"%s\",\"dtype\":\"f32\",\"bf16_peak_gflops\":", peak,
                   threads, isa);
            if (bf16_peak > 0) printf("%.1f}\n", bf16_peak);
            else printf("null}\n");
        } else {
            printf("fp32 FMA peak: %.1f GFLOP/s on %d threads (%s)\n", peak, threads, isa);
            if (bf16_peak > 0) printf("bf16 dot-product peak: %.1f GFLOP/s on %d threads (vdpbf16ps)\n", bf16_peak, threads);
            else printf("bf16 dot-product peak: none (this CPU or build lacks avx512_bf16; EVA_BF16=dot-force tries anyway)\n");
        }
        return 0;
    }
    if (cli_model_opts_check(cmd, &mo) != 0) {
        eva_pool_free(probe_pool);
        return 2;
    }
    double t0 = eva_now_seconds();
    eva_model *model;
    if (cli_model_open(cmd, &mo, &model) != EVA_OK) {
        eva_pool_free(probe_pool);
        return 1;
    }
    double load_s = eva_now_seconds() - t0;
    eva_model_info info;
    bool is_bf16 = eva_model_weight_dtype(model) == EVA_BF16;
    eva_model_get_info(model, &info);
    int S = info.img_size, B = batch;
    float *images = cli_formula_input("bench", B, S);
    eva_outputs out = {0};
    out.pre_logits = malloc(sizeof(float) * (size_t)B * info.width);
    eva_ctx *ctx = NULL;
    double *times = calloc((size_t)reps, sizeof(double));
    /* the probe is re-run after every timed pass and the median taken: on a shared VM the FMA
       rate itself drifts by +-15 % within minutes, so one probe before the runs can be far from
       what the runs actually got */
    double *peaks = calloc((size_t)reps + 1, sizeof(double));
    int npeaks = 0;
    /* bf16 weights on vdpbf16ps are measured against the bf16 dot-product peak */
    bool bf16_peak = eva_model_weight_dtype(model) == EVA_BF16 && eva_gemm_bf16_math() == EVA_BF16_MATH_DOT;
    if (bf16_peak) peak = eva_peak_bf16_gflops(probe_pool, 0.3);
    if (peaks) peaks[npeaks++] = peak;
    eva_status st = EVA_OK;
    double cpu0 = 0;
    double cpu_run = 0, steal_run = 0;
    bool have_steal = steal_seconds() >= 0;
    if (!images || !out.pre_logits || !times || !peaks) {
        st = EVA_ERR_NOMEM;
    } else {
        st = eva_ctx_create(model, mo.threads, &ctx);
        if (!json) {
            fprintf(stderr, "eva bench: %s at %dx%d, batch %d, %d threads, GEMM kernel %s, weights %s%s%s%s%s%s (load %.1f s)\n",
                    info.arch, S, S, B, threads, eva_gemm_kernel_name(), dtype_key(eva_model_weight_dtype(model)),
                    eva_model_weights_panels(model) ? " (panels)" : "",
                    is_bf16 ? ", bf16 math: " : "", is_bf16 ? eva_gemm_bf16_math_name() : "", is_bf16 ? "; " : "",
                    is_bf16 ? eva_gemm_bf16_math_reason() : "", load_s);
        }
        for (int r = 0; r < warmup && st == EVA_OK; r++) st = eva_forward(ctx, images, B, S, &out);
        if (profile && st == EVA_OK) eva_ctx_set_profiling(ctx, true);
        cpu0 = cpu_seconds();
        for (int r = 0; r < reps && st == EVA_OK; r++) {
            double steal0 = have_steal ? steal_seconds() : 0; /* read outside the timed window */
            double a = eva_now_seconds();
            st = eva_forward(ctx, images, B, S, &out);
            times[r] = eva_now_seconds() - a;
            cpu_run += cpu_seconds() - cpu0;
            if (have_steal) steal_run += steal_seconds() - steal0;
            if (!json) fprintf(stderr, "  run %d: %.1f ms\n", r + 1, times[r] * 1e3);
            if (st == EVA_OK)
                peaks[npeaks++] = bf16_peak ? eva_peak_bf16_gflops(probe_pool, 0.2) : eva_peak_fp32_gflops(probe_pool, 0.2, &isa);
            cpu0 = cpu_seconds();
        }
    }
    eva_pool_free(probe_pool);
    if (npeaks > 1) {
        qsort(peaks, (size_t)npeaks, sizeof(double), cmp_double);
        peak = peaks[npeaks / 2];
    }
    int rc = 0;
    if (st != EVA_OK) {
        rc = cli_lib_error(cmd, st);
    } else {
        qsort(times, (size_t)reps, sizeof(double), cmp_double);
        double med = times[reps / 2];
        double flops = eva_model_flops(model, S) * B;
        double ms_img = med * 1e3 / B, ips = B / med, gflops = flops / med / 1e9;
        double best_pct = 100 * flops / times[0] / 1e9 / peak; /* the fastest pass, same median peak */
        double rss_mb = eva_peak_rss_bytes() / 1048576.0;
        double prof[EVA_PROF_COUNT] = {0}, prof_sum = 0;
        if (profile) {
            eva_ctx_profile(ctx, prof);
            for (int k = 0; k < EVA_PROF_COUNT; k++) prof_sum += prof[k];
        }
        static const char *prof_names[EVA_PROF_COUNT] = {"gemm", "attention", "layernorm", "other"};
        if (json) {
            printf("{\"arch\":\"%s\",\"size\":%d,\"batch\":%d,\"threads\":%d,\"dtype\":\"%s\",\"kernel\":\"%s\","
                   "\"ms_per_image\":%.3f,\"images_per_s\":%.4f,\"gflops\":%.2f,\"gflop_per_image\":%.3f,"
                   "\"peak_gflops\":%.1f,\"pct_of_peak\":%.1f,\"peak_rss_mb\":%.1f,\"reps\":%d,\"best_ms\":%.3f,"
                   "\"load_s\":%.3f",
                   info.arch, S, B, threads, dtype_key(eva_model_weight_dtype(model)), eva_gemm_kernel_name(), ms_img, ips, gflops,
                   eva_model_flops(model, S) / 1e9, peak, 100 * gflops / peak, rss_mb, reps, times[0] * 1e3, load_s);
            printf(",\"cpu_ms_per_image\":%.3f,\"peak_kind\":\"%s\",\"weight_layout\":\"%s\"", cpu_run * 1e3 / reps / B,
                   bf16_peak ? "bf16" : "fp32", eva_model_weights_panels(model) ? "panels" : "rows");
            printf(",\"best_pct_of_peak\":%.1f", best_pct);
            if (have_steal) printf(",\"steal_ms_per_image\":%.1f", steal_run * 1e3 / reps / B);
            if (is_bf16)
                printf(",\"bf16_math\":\"%s\",\"bf16_math_reason\":\"%s\"", eva_gemm_bf16_math_name(),
                       eva_gemm_bf16_math_reason());
            if (profile)
                for (int k = 0; k < EVA_PROF_COUNT; k++)
                    printf(",\"profile_%s_pct\":%.1f", prof_names[k], prof_sum > 0 ? 100 * prof[k] / prof_sum : 0);
            printf("}\n");
        } else {
            printf("%s %dpx batch %d %s: %.1f ms/image, %.3f images/s, %.1f GFLOP/s = %.0f%% of the %.0f GFLOP/s %s peak "
                   "(%.1f GFLOP/image), peak RSS %.0f MB\n",
                   info.arch, S, B, dtype_key(eva_model_weight_dtype(model)), ms_img, ips, gflops, 100 * gflops / peak, peak,
                   bf16_peak ? "bf16 dot-product" : "fp32", eva_model_flops(model, S) / 1e9, rss_mb);
            if (reps > 1)
                printf("  fastest of the %d passes: %.1f ms/image = %.0f%% of the same peak\n", reps, times[0] * 1e3 / B,
                       best_pct);
            printf("  CPU time %.1f ms/image over all threads (wall/CPU shows how much of the machine the run got)\n",
                   cpu_run * 1e3 / reps / B);
            if (have_steal)
                printf("  hypervisor steal %.1f vCPU-ms/image during the timed passes (/proc/stat: time this VM's\n"
                       "  vCPUs waited for the host; more than a few %% of the CPU time makes the run noise)\n",
                       steal_run * 1e3 / reps / B);
            if (profile)
                for (int k = 0; k < EVA_PROF_COUNT; k++)
                    printf("  %-10s %6.1f%%  %8.1f ms/pass\n", prof_names[k], prof_sum > 0 ? 100 * prof[k] / prof_sum : 0,
                           prof[k] * 1e3 / reps);
        }
    }
    free(times);
    free(peaks);
    free(images);
    free(out.pre_logits);
    eva_ctx_free(ctx);
    eva_model_free(model);
    return rc;
}
