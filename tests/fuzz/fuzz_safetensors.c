/* libFuzzer target: the safetensors header parser (io/safetensors.c) on
 * arbitrary bytes taken as a whole file.  Whatever the input, st_parse must
 * return without a crash, a leak or undefined behaviour (build with
 * -DPHOTON_FUZZ=ON -DPHOTON_SANITIZE=ON and clang), and a header it accepts
 * must keep the promise the readers rely on: tensors sorted by offset that
 * tile the data area exactly.
 *   ./fuzz_safetensors -max_len=4096 -runs=200000 [CORPUS_DIR]   */
#include <stdint.h>
#include <stdlib.h>
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_header h;
    photon_err err;
    if (st_parse(data, size, size, &h, &err) != 0) return 0;
    uint64_t hn = 0, at = 0;
    for (int i = 7; i >= 0; i--) hn = hn << 8 | data[i];
    for (size_t i = 0; i < h.n; i++) {
        if (h.t[i].begin != at || h.t[i].end < h.t[i].begin) abort();
        at = h.t[i].end;
    }
    if (at != size - 8 - hn) abort();
    st_header_free(&h);
    return 0;
}
