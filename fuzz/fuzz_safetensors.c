/* fuzz_safetensors.c — libFuzzer target: bytes as a .safetensors file through
 * eva_safetensors_parse; the ends of every tensor are read back (views must stay inside the input).
 * Seeds: fuzz/corpus/fuzz_safetensors/. Run: fuzz/run.sh fuzz_safetensors 60 */
#include "io/tensor_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    eva_tensor_map m;
    eva_tensor_map_init(&m);
    if (eva_safetensors_parse(data, size, "fuzz", &m) == EVA_OK) {
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
