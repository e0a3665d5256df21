/* `photon-sim plan EXPERIMENT.ini [--set section.key=value ...] [--json]`
 * (DESIGN §8): the predicted round of an experiment on its [network]
 * (or the defaults), without training or reading data: a preset with only
 * a [model] is enough.  Compute comes from the model (FLOPs per token x
 * tokens per task over [network] tokens_per_s or device_tflops), so the
 * prediction is a pure function of the configuration; it uses the same
 * simulated round as a running experiment's clock (supervisor/netclock.h),
 * on round 1's sampled clients. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/common.h"
#include "io/config.h"
#include "gpu/model.h"
#include "supervisor/cmd/cli.h"
#include "supervisor/netclock.h"
#include "supervisor/netmodel.h"
#include "supervisor/sampler.h"

#define USAGE "photon-sim plan EXPERIMENT.ini [--set section.key=value ...] [--json] [--clients]"
#define GPT2_VOCAB 50257   /* GPT-2's tokenizer, assumed when the configuration names no vocabulary size */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct { double min, median, max; } stat3;

/* min, median and max of v[0..n) (sorted in place); NANs skipped */
static stat3 stats(double *v, int n)
{
    int m = 0;
    for (int i = 0; i < n; i++) if (!isnan(v[i])) v[m++] = v[i];
    if (m == 0) return (stat3){ NAN, NAN, NAN };
    qsort(v, (size_t)m, sizeof *v, cmp_double);
    return (stat3){ v[0], m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]), v[m - 1] };
}

/* "12.3 s", "4.2 min", "3.1 h", "2.0 d" */
static const char *dur(double s, char *buf)
{
    if (isnan(s)) snprintf(buf, 32, "-");
    else if (s < 1e-3) snprintf(buf, 32, "%.1f us", s * 1e6);
    else if (s < 1) snprintf(buf, 32, "%.1f ms", s * 1e3);
    else if (s < 120) snprintf(buf, 32, "%.2f s", s);
    else if (s < 7200) snprintf(buf, 32, "%.1f min", s / 60);
    else if (s < 172800) snprintf(buf, 32, "%.1f h", s / 3600);
    else snprintf(buf, 32, "%.1f d", s / 86400);
    return buf;
}

static const char *bytes_h(double b, char *buf)
{
    static const char *const u[] = { "B", "kB", "MB", "GB", "TB", "PB" };
    int i = 0;
    while (b >= 1000 && i < 5) { b /= 1000; i++; }
    snprintf(buf, 32, i ? "%.2f %s" : "%.0f %s", b, u[i]);
    return buf;
}

static void perclient_text(const photon_config *c, const char *key, char *out, size_t n)
{
    /* the INI text of the value, through the resolved dump's own formatting */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) { snprintf(out, n, "?"); return; }
    photon_config tmp = *c;
    tmp.network.present = true;
    config_dump(&tmp, mem);
    fclose(mem);
    char pat[64];
    snprintf(pat, sizeof pat, "\n%s = ", key);
    const char *p = strstr(text, pat);
    if (!p) snprintf(out, n, "?");
    else {
        p += strlen(pat);
        size_t l = strcspn(p, "\n");
        if (l > 60) snprintf(out, n, "%.57s... (one per client)", p);
        else snprintf(out, n, "%.*s", (int)l, p);
    }
    free(text);
}

int cmd_plan(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0, list = 0;
    const char **sets = xcalloc((size_t)argc + 1, sizeof *sets);
    int nsets = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) json = 1;
        else if (strcmp(a, "--clients") == 0) list = 1;
        else if (strcmp(a, "--set") == 0 && i + 1 < argc) sets[nsets++] = argv[++i];
        else if (strncmp(a, "--set=", 6) == 0) sets[nsets++] = a + 6;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "photon-sim: error: plan: %s '%s' (usage: %s)\n",
                    strcmp(a, "--set") == 0 ? "--set needs section.key=value, got nothing after" : "unknown option", a, USAGE);
            free(sets);
            return PHOTON_EXIT_USAGE;
        } else if (path) {
            fprintf(stderr, "photon-sim: error: plan: more than one experiment file: %s (usage: %s)\n", a, USAGE);
            free(sets);
            return PHOTON_EXIT_USAGE;
        } else path = a;
    }
    if (!path) {
        fprintf(stderr, "photon-sim: error: plan: no experiment file given (usage: %s)\n", USAGE);
        free(sets);
        return PHOTON_EXIT_USAGE;
    }
    photon_config *cfg = xmalloc(sizeof *cfg);
    photon_err err;
    if (config_load_model_only(cfg, path, sets, nsets, &err) < 0) {
        fprintf(stderr, "photon-sim: error: %s\n", err.msg);
        free(sets);
        free(cfg);
        return PHOTON_EXIT_USAGE;
    }
    free(sets);
    int had_network = cfg->network.present;
    cfg->network.present = true;            /* the defaults when the file has none */
    cfg->network.compute = COMPUTE_MODEL;   /* nothing is measured here */

    if (list) {
        /* every client's link and speed, as the model draws them (tools/wan.sh shapes its links by these) */
        printf("client bandwidth_mbps latency_ms compute_scale\n");
        for (int i = 0; i < cfg->clients.count; i++) {
            net_client l;
            net_client_of(cfg, i, &l);
            printf("%d %.17g %.17g %.17g\n", i, l.bw * 8 / 1e6, l.lat * 1e3, l.scale);
        }
        free(cfg);
        return PHOTON_EXIT_OK;
    }
    gpt2_config g = { .n_layer = cfg->model.n_layer, .n_head = cfg->model.n_head, .d_model = cfg->model.d_model,
                      .seq_len = cfg->model.seq_len };
    const char *vsrc = "[model] vocab_size";
    if (cfg->model.vocab_size > 0) g.vocab_size = cfg->model.vocab_size;
    else if (strcmp(cfg->data.tokenizer, "train") == 0) { g.vocab_size = cfg->data.tokenizer_vocab; vsrc = "[data] tokenizer_vocab"; }
    else { g.vocab_size = GPT2_VOCAB; vsrc = "GPT-2's tokenizer, assumed"; }
    g.padded_vocab = gpt2_padded_vocab(g.vocab_size, cfg->model.pad_vocab);
    if (gpt2_config_check(&g, &err) < 0) {
        fprintf(stderr, "photon-sim: error: %s: %s\n", path, err.msg);
        free(cfg);
        return PHOTON_EXIT_USAGE;
    }
    size_t n = gpt2_num_params(&g);
    int centralized = cfg->run.mode == MODE_CENTRALIZED;
    int count = cfg->clients.count;
    int k = cfg->clients.per_round > 0 && cfg->clients.per_round < count ? cfg->clients.per_round : count;
    int *ids = xcalloc((size_t)k, sizeof(int));
    if (centralized) ids[0] = 0;
    else {
        sampler *smp = sampler_create(cfg->run.seed, count, k);
        sampler_pick(smp, 0, 0, ids);
        sampler_free(smp);
    }
    netclock *nc = netclock_new(cfg, &g, n, centralized, k);
    /* Streaming: round 1 downloads the whole model; from round 2 on the
     * clients continue (and with overlap compute while a fragment is in
     * flight): that steady state is what a run mostly is, so plan shows it. */
    int streaming = !centralized && (cfg->aggregator.fragments > 1 || cfg->aggregator.overlap);
    for (int rep_round = 0; rep_round <= streaming; rep_round++) {
        netclock_round_begin(nc, centralized ? 1 : k, ids, NULL);
        netclock_round_end(nc);
    }
    netclock_report rep;
    netclock_last(nc, &rep);

    const char *rsrc;
    double tps = net_tokens_per_s(cfg, &g, &rsrc);
    double task_tokens = net_task_tokens(cfg) * (centralized ? k : 1);
    double flops_per_token = gpt2_train_flops(&g, 1, g.seq_len) / g.seq_len;
    net_bytes nb;
    net_transfer_bytes(cfg, n, &nb);
    double photon_bytes = (double)k * (nb.download + nb.upload);
    double ar_bytes = 2.0 * cfg->clients.local_steps * (k - 1) * nb.allreduce;
    int kk = rep.k;
    double *v = xcalloc((size_t)kk * 3 + 3, sizeof(double));
    double *vd = v, *vc = v + kk, *vu = v + 2 * kk;
    for (int i = 0; i < kk; i++) {
        vd[i] = rep.results[i].down_done;
        vc[i] = rep.clients[i].compute;
        vu[i] = rep.results[i].upload;   /* (a streaming round: its phases' together) */
    }
    stat3 sd = stats(vd, kk), sc = stats(vc, kk), su = stats(vu, kk);
    double agg_tail = rep.summary->on_time ? rep.sim - rep.summary->last_arrival : NAN;
    int rounds = cfg->run.rounds;
    char bw[200], lat[200], sc_t[200];
    perclient_text(cfg, "bandwidth_mbps", bw, sizeof bw);
    perclient_text(cfg, "latency_ms", lat, sizeof lat);
    perclient_text(cfg, "compute_scale", sc_t, sizeof sc_t);

    if (json) {
        printf("{\"experiment\": ");
        json_write_string(stdout, path);
        printf(", \"network_section\": %s, \"mode\": \"%s\", \"parameters\": %zu, "
               "\"vocab_size\": %d, \"clients\": %d, \"clients_per_round\": %d, \"local_steps\": %d, "
               "\"task_tokens\": %.0f, \"flops_per_token\": %.6g, \"tokens_per_s\": %.6g, "
               "\"download_bytes\": %.0f, \"upload_bytes\": %.0f, \"server_bandwidth_mbps\": %.17g, "
               "\"download_seconds_max\": %.6g, \"compute_seconds_max\": %.6g, \"upload_seconds_max\": %.6g, "
               "\"aggregation_seconds\": %.6g, \"late\": %d, \"round_seconds\": %.6g, "
               "\"allreduce_step_compute_seconds\": %.6g, \"allreduce_step_comm_seconds\": %.6g, "
               "\"allreduce_round_seconds\": %.6g, \"photon_bytes_per_round\": %.0f, \"allreduce_bytes_per_round\": %.0f, "
               "\"communication_reduction\": %.6g, \"speedup\": %.6g, \"rounds\": %d, "
               "\"run_seconds\": %.6g, \"allreduce_run_seconds\": %.6g, \"fragments\": %d, \"overlap\": %s}\n",
               had_network ? "true" : "false", centralized ? "centralized" : "federated", n, g.vocab_size,
               count, k, cfg->clients.local_steps, task_tokens, flops_per_token, tps, nb.download, nb.upload,
               cfg->network.server_bandwidth_mbps,
               centralized ? 0 : sd.max, centralized ? 0 : sc.max, centralized ? 0 : su.max,
               isnan(agg_tail) ? 0 : agg_tail, rep.summary->late, rep.sim,
               rep.allreduce_step_compute, rep.allreduce_step_comm, rep.allreduce, photon_bytes, ar_bytes,
               photon_bytes > 0 ? ar_bytes / photon_bytes : 0, rep.sim > 0 ? rep.allreduce / rep.sim : 0, rounds,
               rep.sim * rounds, rep.allreduce * rounds, centralized ? 1 : cfg->aggregator.fragments,
               !centralized && cfg->aggregator.overlap ? "true" : "false");
    } else {
        char a[32], b[32], c[32], d[32];
        printf("plan: %s (%s)\n", path, had_network ? "its [network]" : "no [network] section: the defaults below");
        printf("  model     %d layers, d_model %d, %d heads, seq_len %d, vocab %d (%s)%s%.0d: %.4g M parameters, %s as fp32\n",
               g.n_layer, g.d_model, g.n_head, g.seq_len, g.vocab_size, vsrc,
               g.padded_vocab != g.vocab_size ? ", padded to " : "", g.padded_vocab != g.vocab_size ? g.padded_vocab : 0, n / 1e6, bytes_h(nb.download, a));
        printf("  clients   %d per round of %d; a task: %d local steps x %d sequences x %d tokens = %.4g M tokens%s\n",
               k, count, cfg->clients.local_steps, cfg->clients.batch_size, g.seq_len, net_task_tokens(cfg) / 1e6,
               centralized ? " (centralized: one task of all of them)" : "");
        printf("  network   bandwidth_mbps = %s, latency_ms = %s, compute_scale = %s, server %g Mbit/s%s\n",
               bw, lat, sc_t, cfg->network.server_bandwidth_mbps,
               cfg->network.server_bandwidth_mbps > 0 ? "" : " (unlimited)");
        printf("  compute   %.3g FLOP/token x %.4g M tokens at %.4g tokens/s (%s): %s per task at compute_scale 1\n",
               flops_per_token, task_tokens / 1e6, tps, rsrc, dur(task_tokens / tps, a));
        if (!centralized) {
            if (streaming)
                printf("\nPhoton round, streaming %d fragment(s)%s (round 2: %d clients continuing)\n"
                       "  per client, phases together       min        median     max\n",
                       cfg->aggregator.fragments, cfg->aggregator.overlap ? " with overlap" : "", kk);
            else printf("\nPhoton round (round 1's %d clients)   min        median     max\n", kk);
            printf("  download             %10s %10s %10s\n", dur(sd.min, a), dur(sd.median, b), dur(sd.max, c));
            printf("  compute              %10s %10s %10s\n", dur(sc.min, a), dur(sc.median, b), dur(sc.max, c));
            printf("  upload               %10s %10s %10s\n", dur(su.min, a), dur(su.median, b), dur(su.max, c));
            printf("  aggregation + outer step after the last update: %s\n", dur(agg_tail, a));
            printf("  round: %s", dur(rep.sim, a));
            if (rep.summary->late) printf(" (%d of %d clients late for round_timeout = %g s)", rep.summary->late, kk,
                                          cfg->aggregator.round_timeout);
            printf("\n");
        }
        printf("\nPer-step ring all-reduce, the same work (%d workers, %d steps)\n", k, cfg->clients.local_steps);
        printf("  per step: compute %s + all-reduce %s (2x%d phases of %s)\n", dur(rep.allreduce_step_compute, a),
               dur(rep.allreduce_step_comm, b), k - 1, bytes_h(nb.allreduce / (k > 0 ? k : 1), c));
        printf("  per round: %s\n", dur(rep.allreduce, a));
        if (!centralized) {
            printf("\nCommunication per round: Photon %s, all-reduce %s: %.4gx less\n", bytes_h(photon_bytes, a),
                   bytes_h(ar_bytes, b), photon_bytes > 0 ? ar_bytes / photon_bytes : 0);
            printf("Time per round: Photon %s, all-reduce %s: all-reduce takes %.3gx as long\n", dur(rep.sim, a),
                   dur(rep.allreduce, b), rep.sim > 0 ? rep.allreduce / rep.sim : 0);
            printf("Whole run (%d rounds): Photon %s, all-reduce %s\n", rounds, dur(rep.sim * rounds, c),
                   dur(rep.allreduce * rounds, d));
        } else {
            printf("Whole run (%d rounds): %s\n", rounds, dur(rep.allreduce * rounds, a));
        }
    }
    netclock_free(nc);
    free(v);
    free(ids);
    free(cfg);
    return PHOTON_EXIT_OK;
}
