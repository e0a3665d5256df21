/* The kept client state blob (see actors/client_state.h). */
#include "actors/client_state.h"
#include <string.h>
#include "gpu/quant.h"

_Static_assert(sizeof(train_state_header) == 64, "the header keeps the sections 64-byte aligned");

int client_state_flags(const photon_config *cfg, int centralized)
{
    if (centralized) return CLIENT_STATE_ADAM;
    int f = 0;
    /* reset restarts the optimizer once per round: with several phases a
     * round, its moments still go from one phase to the next */
    if (cfg->clients.optimizer_state == OPTSTATE_KEEP || cfg->aggregator.fragments > 1) f |= CLIENT_STATE_ADAM;
    if (cfg->aggregator.fragments > 1 || cfg->aggregator.overlap) f |= CLIENT_STATE_LOCAL;
    if (cfg->aggregator.error_feedback && cfg->aggregator.compression != QUANT_NONE) f |= CLIENT_STATE_RESID;
    return f;
}

static int sections(int flags)
{
    return 2 * !!(flags & CLIENT_STATE_ADAM) + !!(flags & CLIENT_STATE_LOCAL) + !!(flags & CLIENT_STATE_RESID);
}

size_t client_state_bytes(int flags, size_t n)
{
    return sizeof(train_state_header) + (size_t)sections(flags) * n * sizeof(float);
}

client_state_view client_state_at(void *blob, int flags, size_t n)
{
    client_state_view v = { .h = blob };
    float *p = (float *)(v.h + 1);
    if (flags & CLIENT_STATE_ADAM) { v.adam_m = p; v.adam_v = p + n; p += 2 * n; }
    if (flags & CLIENT_STATE_LOCAL) { v.local = p; p += n; }
    if (flags & CLIENT_STATE_RESID) v.resid = p;
    return v;
}

client_state_view client_state_init(void *blob, int flags, size_t n)
{
    client_state_view v = client_state_at(blob, flags, n);
    memset(v.h, 0, sizeof *v.h);
    v.h->n = (int64_t)n;
    v.h->flags = flags;
    return v;
}

int client_state_open(const void *blob, size_t bytes, int flags, size_t n, client_state_view *v, photon_err *err)
{
    const train_state_header *h = blob;
    if (bytes < sizeof *h) { err_set(err, "kept client state of %zu bytes: no header", bytes); return -1; }
    if (h->n != (int64_t)n || h->flags != flags) {
        err_set(err, "kept client state has %lld params and sections %lld, the run %zu and %d",
                (long long)h->n, (long long)h->flags, n, flags);
        return -1;
    }
    if (bytes < client_state_bytes(flags, n)) {
        err_set(err, "kept client state of %zu bytes, its sections need %zu", bytes, client_state_bytes(flags, n));
        return -1;
    }
    *v = client_state_at((void *)blob, flags, n);
    return 0;
}
