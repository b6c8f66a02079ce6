/* placeholder */
#include "io/tensor_map.h"
