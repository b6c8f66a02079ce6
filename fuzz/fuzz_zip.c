/* fuzz_zip.c — libFuzzer target: a whole .pt file (zip container + data.pkl + storages) through
 * eva_pt_parse, then the ends of every tensor are read (views must stay inside the input or owned blocks).
 * Seeds: fuzz/corpus/fuzz_zip/ (small torch.save files). Run: fuzz/run.sh fuzz_zip 60 */
#include "io/pt_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    eva_tensor_map m;
    eva_pt_info info;
    if (eva_pt_parse(data, size, "fuzz", &m, &info) == EVA_OK) {
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
