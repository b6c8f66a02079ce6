/* fuzz_pickle.c — libFuzzer target: bytes fed directly as a data.pkl to the restricted
 * unpickler + tree walk (eva_pt_parse_pickle: storages read as zeros, so tensors are built and
 * checked too). Seeds: fuzz/corpus/fuzz_pickle/ (data.pkl records of small torch.save files).
 * Run: fuzz/run.sh fuzz_pickle 60 */
#include "io/pt_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    eva_tensor_map m;
    eva_pt_info info;
    if (eva_pt_parse_pickle(data, size, "fuzz", &m, &info) == EVA_OK) {
        volatile uint8_t s = 0;
        /* first and last byte of each tensor: a view reaching outside its block trips ASan */
        for (int i = 0; i < m.count; i++)
            if (m.items[i].nbytes) {
                const uint8_t *d = m.items[i].t.data;
                s ^= d[0] ^ d[m.items[i].nbytes - 1];
            }
        (void)s;
    }
    eva_tensor_map_free(&m);
    return 0;
}
