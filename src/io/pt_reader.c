/* pt_reader.c — placeholder until the restricted .pt reader lands (being written now). */
#include "io/tensor_map.h"

eva_status eva_pt_parse(const uint8_t *data, size_t size, const char *what, eva_tensor_map *out, eva_pt_info *info) {
    (void)data; (void)size; (void)out; (void)info;
    return eva_fail(EVA_ERR_UNSUPPORTED, "%s: PyTorch .pt files are not supported yet", what);
}

eva_status eva_pt_read(const char *path, eva_tensor_map *out, eva_pt_info *info) {
    return eva_pt_parse(NULL, 0, path, out, info);
}
