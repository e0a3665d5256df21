/* `photon-sim bench`: training throughput of one model configuration on one
 * backend.  Times full training steps (zero_grad, forward + backward, global
 * norm clipping, AdamW) on random tokens after a few warm-up steps and
 * prints tokens/s, achieved GFLOP/s (gpt2_train_flops) and ms/step, or one
 * JSON object with --json.  bench/compare_cpu.sh runs it next to the same
 * model in PyTorch (bench/torch_cpu_bench.py).  With the CUDA backend it also
 * reports MFU against the bf16 cuBLAS rate measured on the same GPU and the
 * peak GPU memory; bench/compare_gpu.sh runs it next to PyTorch on the GPU. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cblas.h>
#include "gpu/model.h"
#include "io/common.h"
#include <ini.h>
#include "supervisor/cmd/cli.h"
#include "supervisor/cmd/bench_runtime.h"
#include "supervisor/cmd/bench_link.h"
#ifdef PHOTON_HAVE_CUDA
#include "gpu/cuda/cuda_api.h"
#endif

#define GPT2_VOCAB 50257   /* the GPT-2 BPE, when a preset takes V from the tokenizer */

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "photon-sim: error: bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see photon-sim bench --help)\n");
    return PHOTON_EXIT_USAGE;
}

/* CPU time of the whole process (all threads): on a shared machine it
 * shows the work done, where wall time also shows the other users. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int parse_int(const char *flag, const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        fprintf(stderr, "photon-sim: error: bench: %s expects an integer in %d..%d (got '%s')\n", flag, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* PRESET: a path (has '/' or ends in .ini), else configs/PRESET.ini looked up
 * in the current directory, then next to the executable (build/../configs). */
static int find_preset(const char *name, char *out, size_t n)
{
    size_t len = strlen(name);
    if (strchr(name, '/') || (len > 4 && strcmp(name + len - 4, ".ini") == 0)) {
        snprintf(out, n, "%s", name);
        return 0;
    }
    char exe[PATH_MAX], dir[PATH_MAX];
    snprintf(out, n, "configs/%s.ini", name);
    if (file_exists(out)) return 0;
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        path_dirname(exe, dir, sizeof dir);
        const char *rel[] = { "%s/../configs/%s.ini", "%s/configs/%s.ini", "%s/../share/photon-sim/configs/%s.ini" };
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            snprintf(out, n, rel[i], dir, name);
            if (file_exists(out)) return 0;
        }
    }
    return -1;
}

/* Reads the [model] section of a preset with inih (other sections, e.g. of
 * a whole experiment file, are ignored: bench needs only the shapes).
 * The full experiment-file validation is config_load's job and would ask
 * for [data] that a model preset does not have. */
typedef struct { gpt2_config *c; int *pad; const char *path; int bad, line; FILE *f; } preset_ctx;

/* fgets for inih that counts lines, so errors can name file:line */
static char *preset_reader(char *buf, int n, void *user)
{
    preset_ctx *p = user;
    char *r = fgets(buf, n, p->f);
    if (r) p->line++;
    return r;
}

static int preset_key(void *user, const char *section, const char *name, const char *value)
{
    preset_ctx *p = user;
    int line = p->line;
    if (strcmp(section, "model") != 0) return 1;
    static const char *keys[] = { "n_layer", "n_head", "d_model", "seq_len", "vocab_size", "pad_vocab", "init_std" };
    int *dst[] = { &p->c->n_layer, &p->c->n_head, &p->c->d_model, &p->c->seq_len, &p->c->vocab_size, p->pad, NULL };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(name, keys[i]) != 0) continue;
        if (!dst[i]) return 1;
        char *end;
        long v = strtol(value, &end, 10);
        if (!*value || *end || v < 0 || v > (1L << 24)) {
            fprintf(stderr, "photon-sim: error: %s:%d: [model] %s: expected a non-negative integer (got '%s')\n",
                    p->path, line, name, value);
            p->bad = 1;
            return 0;
        }
        *dst[i] = (int)v;
        return 1;
    }
    fprintf(stderr, "photon-sim: error: %s:%d: [model] %s: unknown key\n", p->path, line, name);
    p->bad = 1;
    return 0;
}

static int load_preset(const char *name, gpt2_config *c, int *pad)
{
    char path[PATH_MAX + 64];
    if (find_preset(name, path, sizeof path) != 0) {
        fprintf(stderr, "photon-sim: error: bench: no model preset '%s' (looked for configs/%s.ini here and next to the executable)\n", name, name);
        return -1;
    }
    preset_ctx p = { c, pad, path, 0, 0, fopen(path, "r") };
    if (!p.f) { fprintf(stderr, "photon-sim: error: bench: %s: cannot open\n", path); return -1; }
    int rc = ini_parse_stream(preset_reader, &p, preset_key, &p);
    fclose(p.f);
    if (p.bad) return -1;
    if (rc > 0) {
        fprintf(stderr, "photon-sim: error: %s:%d: syntax error: expected '[section]', 'key = value' or a comment\n", path, rc);
        return -1;
    }
    if (!c->vocab_size) c->vocab_size = GPT2_VOCAB;
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    const char *preset = NULL, *backend = "cpu";
    int layers = 0, heads = 0, dim = 0, vocab = 0, B = 0, T = 0, threads = 0, steps = 10, warm = 2, json = 0, pad = 0;
    /* the runtime's own cost per round: aggregation and outer step
     * (supervisor/cmd/bench_runtime.c), the shm link and dispatch (bench_link.c) */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runtime") == 0) return bench_runtime_main(argc, argv);
        if (strcmp(argv[i], "--link") == 0) return bench_link_main(argc, argv);
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) { json = 1; continue; }
        if (i + 1 >= argc) return usage("unknown option or missing value: '%s'", a);
        const char *v = argv[++i];
        int rc = 0;
        if (strcmp(a, "--model") == 0) preset = v;
        else if (strcmp(a, "--backend") == 0) backend = v;
        else if (strcmp(a, "--layers") == 0) rc = parse_int(a, v, 1, 1024, &layers);
        else if (strcmp(a, "--heads") == 0) rc = parse_int(a, v, 1, 1024, &heads);
        else if (strcmp(a, "--dim") == 0) rc = parse_int(a, v, 1, 65536, &dim);
        else if (strcmp(a, "--vocab") == 0) rc = parse_int(a, v, 2, 1 << 24, &vocab);
        else if (strcmp(a, "--pad-vocab") == 0) rc = parse_int(a, v, 1, 1 << 16, &pad);
        else if (strcmp(a, "--batch") == 0) rc = parse_int(a, v, 1, 1 << 20, &B);
        else if (strcmp(a, "--seq") == 0) rc = parse_int(a, v, 1, 1 << 20, &T);
        else if (strcmp(a, "--threads") == 0) rc = parse_int(a, v, 0, 4096, &threads);
        else if (strcmp(a, "--steps") == 0) rc = parse_int(a, v, 1, 1 << 20, &steps);
        else if (strcmp(a, "--warmup") == 0) rc = parse_int(a, v, 0, 1 << 20, &warm);
        else return usage("unknown option '%s'", a);
        if (rc) return PHOTON_EXIT_USAGE;
    }
    gpt2_config c = { 0 };
    int preset_pad = 1;
    if (preset && load_preset(preset, &c, &preset_pad) != 0) return PHOTON_EXIT_USAGE;
    /* explicit flags override the preset */
    if (layers) c.n_layer = layers;
    if (heads) c.n_head = heads;
    if (dim) c.d_model = dim;
    if (vocab) c.vocab_size = vocab;
    if (!c.n_layer || !c.n_head || !c.d_model || !c.vocab_size)
        return usage("%s", "give --model PRESET, or all of --layers, --heads, --dim and --vocab");
    if (!B || !T) return usage("%s", "--batch and --seq are required");
    if (c.seq_len < T) c.seq_len = T;
    c.padded_vocab = gpt2_padded_vocab(c.vocab_size, pad ? pad : preset_pad);

    backend_opts o = { .threads = threads };
    if (strcmp(backend, "cpu") == 0) o.kind = PHOTON_BACKEND_CPU;
    else if (strcmp(backend, "cuda") == 0) o.kind = PHOTON_BACKEND_CUDA;
    else if (strcmp(backend, "auto") == 0) o.kind = backend_cuda_available() ? PHOTON_BACKEND_CUDA : PHOTON_BACKEND_CPU;
    else return usage("--backend expects cpu, cuda or auto (got '%s')", backend);
    o.bf16 = o.kind == PHOTON_BACKEND_CUDA;
    int nthr = cpu_threads(threads);

    photon_err err;
    photon_model *m = model_create(&c, B, T, &o, &err);
    if (!m) {
        fprintf(stderr, "photon-sim: error: bench: %s\n", err.msg);
        return strstr(err.msg, "model:") == err.msg ? PHOTON_EXIT_USAGE : PHOTON_EXIT_FAIL;
    }
    size_t P = m->layout.total;
    float *params = xmalloc_aligned(P * sizeof(float));
    gpt2_init_params(&c, params, 1, 0.02);
    m->ops->set_params(m, params);
    free(params);
    size_t ntok = (size_t)B * (T + 1);
    uint32_t *tokens = xmalloc(ntok * sizeof *tokens);
    photon_rng r;
    rng_seed(&r, 1);
    for (size_t i = 0; i < ntok; i++) tokens[i] = (uint32_t)rng_below(&r, (uint64_t)c.vocab_size);

    adamw_params ap = { 3e-4f, 0.9f, 0.95f, 1e-8f, 0.1f };
    float loss = 0;
    double t0 = 0, c0 = 0;
    for (int s = 0; s < warm + steps; s++) {
        if (s == warm) { t0 = time_mono(); c0 = cpu_seconds(); }
        m->ops->zero_grad(m);
        loss = m->ops->forward_backward(m, tokens, 1.0f);
        m->ops->clip_grad(m, 1.0f);
        m->ops->adamw_step(m, &ap);
    }
#ifdef PHOTON_HAVE_CUDA
    if (o.kind == PHOTON_BACKEND_CUDA) cuda_model_sync(m);   /* the last AdamW step is still queued */
#endif
    double dt = time_mono() - t0, cpu = cpu_seconds() - c0;
    double tps = (double)B * T * steps / dt;
    double gflops = gpt2_train_flops(&c, B, T) * steps / dt / 1e9;
    const char *bname = m->ops->name;
    /* the OpenBLAS kernels in use (the CPU backend may have corrected them) */
    const char *blas = o.kind == PHOTON_BACKEND_CPU ? openblas_get_corename() : "none";
    /* GPU: MFU against the bf16 cuBLAS rate measured now on the same GPU, and peak memory */
#ifdef PHOTON_HAVE_CUDA
    cuda_bench_figures gf;
    int have_gpu = o.kind == PHOTON_BACKEND_CUDA && cuda_bench_figures_get(m, gflops * 1e9, &gf) == 0;
#endif
    if (json) {
        printf("{\"backend\": \"%s\", \"threads\": %d, \"n_layer\": %d, \"n_head\": %d, \"d_model\": %d, "
               "\"vocab_size\": %d, \"padded_vocab\": %d, \"batch\": %d, \"seq\": %d, \"params\": %zu, \"blas\": \"%s\", "
               "\"steps\": %d, \"ms_per_step\": %.3f, \"cpu_ms_per_step\": %.3f, \"tokens_per_s\": %.1f, \"gflops\": %.2f, \"loss\": %.6f",
               bname, nthr, c.n_layer, c.n_head, c.d_model, c.vocab_size, c.padded_vocab, B, T, P, blas, steps,
               1e3 * dt / steps, 1e3 * cpu / steps, tps, gflops, loss);
#ifdef PHOTON_HAVE_CUDA
        if (have_gpu) {
            printf(", \"gpu\": ");
            json_write_string(stdout, gf.gpu);
            printf(", \"bf16_tflops\": %.1f, \"mfu\": %.4f, \"peak_gpu_mem_bytes\": %zu, \"model_gpu_bytes\": %zu",
                   gf.bf16_tflops, gf.mfu, gf.peak_used, gf.allocated);
        }
#endif
        printf("}\n");
    } else {
        printf("model: %d layers, %d heads, d_model %d, vocab %d (padded %d), %.2fM params\n",
               c.n_layer, c.n_head, c.d_model, c.vocab_size, c.padded_vocab, P / 1e6);
        printf("batch %d x seq %d, backend %s, %d threads (OpenBLAS %s), %d steps after %d warm-up\n",
               B, T, bname, nthr, blas, steps, warm);
        printf("%.1f ms/step  %.0f tokens/s  %.1f GFLOP/s  (%.1f ms CPU time per step, last loss %.4f)\n",
               1e3 * dt / steps, tps, gflops, 1e3 * cpu / steps, loss);
#ifdef PHOTON_HAVE_CUDA
        if (have_gpu)
            printf("GPU %s: MFU %.1f%% of the measured bf16 cuBLAS rate (%.0f TFLOP/s); peak GPU memory %.2f GiB "
                   "(this model %.2f GiB)\n", gf.gpu, 100.0 * gf.mfu, gf.bf16_tflops, gf.peak_used / 1073741824.0,
                   gf.allocated / 1073741824.0);
#endif
    }
    free(tokens);
    model_destroy(m);
    return PHOTON_EXIT_OK;
}
