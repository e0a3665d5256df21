/* [network]'s clients, bytes and compute: the figures the simulated round
 * (netsim.c) is fed with.  See netmodel.h and docs/NETWORK.md. */
#include "supervisor/netmodel.h"
#include "gpu/quant.h"
#include <math.h>

/* splitmix64's output function of x (io/common.h's, without the state). */
static uint64_t mix(uint64_t x)
{
    return splitmix64(&x);
}

/* A uniform in (0, 1) from (seed, tag, client, draw): no state, so a value
 * never depends on which clients were looked at before. */
static double unit(uint64_t seed, uint32_t tag, int client, int draw)
{
    uint64_t h = mix(seed ^ mix(((uint64_t)tag << 32) ^ (uint64_t)(uint32_t)client));
    h = mix(h + (uint64_t)draw);
    return ((double)(h >> 11) + 0.5) * 0x1.0p-53;
}

double net_perclient(const cfg_perclient *p, uint64_t seed, uint32_t tag, int client, double lo, double hi)
{
    double v;
    switch (p->kind) {
    case DIST_CONST: v = p->a; break;
    case DIST_LIST: v = client >= 0 && client < p->n ? p->v[client] : p->v[p->n - 1]; break;
    case DIST_LOGNORMAL: {
        /* Box-Muller: one standard normal from two uniforms */
        double z = sqrt(-2.0 * log(unit(seed, tag, client, 0))) * cos(2.0 * M_PI * unit(seed, tag, client, 1));
        v = p->a * exp(p->b * z);
        break;
    }
    case DIST_UNIFORM: v = p->a + (p->b - p->a) * unit(seed, tag, client, 0); break;
    case DIST_LOGUNIFORM: v = exp(log(p->a) + (log(p->b) - log(p->a)) * unit(seed, tag, client, 0)); break;
    default: v = p->a;
    }
    return v < lo ? lo : v > hi ? hi : v;
}

void net_client_of(const photon_config *c, int client, net_client *out)
{
    /* the clamps are the schema's ranges of the keys (io/config_schema.c) */
    uint64_t seed = c->run.seed;
    out->bw = net_perclient(&c->network.bandwidth_mbps, seed, 1, client, 0.001, 1e6) * 1e6 / 8.0;
    out->lat = net_perclient(&c->network.latency_ms, seed, 2, client, 0, 1e5) / 1e3;
    out->scale = net_perclient(&c->network.compute_scale, seed, 3, client, 1e-6, 1e6);
}

void net_transfer_bytes(const photon_config *c, size_t n_params, net_bytes *b)
{
    /* The model and the update as sent ([aggregator] broadcast_compression,
     * compression; docs/ROUNDS.md).  With streaming fragments a client
     * still receives and sends each parameter once a round, one fragment at
     * a time; each fragment is encoded on its own, which adds at most one
     * partial block per fragment (< 0.01% here).  The all-reduce baseline
     * sends fp32 gradients. */
    int centralized = c->run.mode == MODE_CENTRALIZED;
    b->download = (double)quant_bytes(centralized ? QUANT_NONE : c->aggregator.broadcast_compression, n_params);
    b->upload = (double)quant_bytes(centralized ? QUANT_NONE : c->aggregator.compression, n_params);
    b->allreduce = (double)n_params * sizeof(float);
}

double net_task_tokens(const photon_config *c)
{
    return (double)c->clients.local_steps * c->clients.batch_size * c->model.seq_len;
}

double net_tokens_per_s(const photon_config *c, const gpt2_config *g, const char **source)
{
    if (c->network.tokens_per_s > 0) {
        if (source) *source = "[network] tokens_per_s";
        return c->network.tokens_per_s;
    }
    double tflops = c->network.device_tflops;
    const char *src = "[network] device_tflops";
    if (tflops <= 0) {
        int cpu = c->run.backend == BACKEND_CPU;
        tflops = cpu ? NET_DEFAULT_TFLOPS_CPU : NET_DEFAULT_TFLOPS_CUDA;
        src = cpu ? "the cpu default device_tflops" : "the cuda default device_tflops (H100 at 40% MFU)";
    }
    if (source) *source = src;
    /* gpt2_train_flops is per step of B x T tokens; one sequence gives per-token figures */
    double per_token = gpt2_train_flops(g, 1, g->seq_len) / g->seq_len;
    return tflops * 1e12 / per_token;
}
