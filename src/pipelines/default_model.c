/* default_model.c — where the bundled default model lives: the tiny EVA that eva.c pre-trained
 * and fine-tuned on Fashion-MNIST (scripts/train-fmnist.sh), shipped in data/models/. */
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define EVA_DEFAULT_MODEL_NAME "models/eva-tiny-fmnist.safetensors"

static bool try_path(char *out, size_t cap, const char *dir, const char *name) {
    if (!dir || !*dir) return false;
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap && access(out, R_OK) == 0;
}

eva_status eva_default_model_path(char *out, size_t cap) {
    if (!out || cap == 0) return eva_fail(EVA_ERR_INVALID_ARG, "no buffer");
    const char *env = getenv("EVA_DEFAULT_MODEL");
    if (env && *env) {
        if (access(env, R_OK) != 0) return eva_fail(EVA_ERR_IO, "EVA_DEFAULT_MODEL=%s cannot be read", env);
        snprintf(out, cap, "%s", env);
        return EVA_OK;
    }
    /* next to the binary (installed: PREFIX/bin/eva -> PREFIX/share/eva), the configured install
     * folder, then the source tree this build came from */
    char exe[4096], dir[4200];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(dir, sizeof dir, "%s/../share/eva", exe);
            if (try_path(out, cap, dir, EVA_DEFAULT_MODEL_NAME)) return EVA_OK;
        }
    }
    if (try_path(out, cap, EVA_DATA_DIR, EVA_DEFAULT_MODEL_NAME)) return EVA_OK;
    if (try_path(out, cap, EVA_SOURCE_DATA_DIR, EVA_DEFAULT_MODEL_NAME)) return EVA_OK;
    return eva_fail(EVA_ERR_MISSING, "no bundled model found (%s under %s or %s); pass --model", EVA_DEFAULT_MODEL_NAME,
                    EVA_DATA_DIR, EVA_SOURCE_DATA_DIR);
}
