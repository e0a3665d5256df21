/* Fuzz target: token shards and the loader (io/shard.c, io/loader.c).  The
 * first 4 bytes choose the vocabulary (0 = unchecked), seq_len and batch;
 * the rest is the shard file.  An opened shard's every token must be below
 * the vocabulary; the loader's batches (including one far into the stream)
 * and the evaluation windows must stay inside the file. */
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "io/loader.h"
#include "io/shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    int vocab = data[0] == 0 ? 0 : data[0] * 256 + data[1];
    int T = 1 + data[2] % 64, B = 1 + data[3] % 8;
    const char *path = fz_write("s.bin", data + 4, size - 4);
    photon_err err;
    shard *s = shard_open(path, vocab, &err);
    if (!s) return 0;
    size_t n = shard_ntokens(s);
    if (vocab > 0)
        for (size_t i = 0; i < n; i++)
            if (shard_token(s, i) >= (uint32_t)vocab) { fprintf(stderr, "token beyond the vocabulary\n"); abort(); }
    uint32_t *buf = malloc((size_t)B * (size_t)(T + 1) * sizeof *buf);
    int64_t w = loader_count_windows(s, T);
    loader_eval_batch(s, 0, B, T, buf);
    if (w > 0) loader_eval_batch(s, w - 1, B, T, buf);
    loader_eval_batch(s, w, B, T, buf);
    shard_close(s);
    loader *l = loader_open(path, B, T, 7, 3, vocab, &err);
    if (l) {
        loader_batch(l, 0, buf);
        loader_batch(l, 1, buf);
        loader_batch(l, (int64_t)1 << 40, buf);
        loader_close(l);
    }
    free(buf);
    return 0;
}
