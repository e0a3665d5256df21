/* Hugging Face GPT-2 import and run initialisation (see hf_import.h).
 * Tensors are matched to the flat layout through io/hf_gpt2.c's names and
 * shapes, read one at a time (memory: the model plus its largest tensor). */
#include "io/hf_import.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/checkpoint.h"
#include "io/hf_gpt2.h"
#include "io/jtree.h"
#include "io/safetensors.h"

#define MAX_JSON (64u << 20)
#define MAX_SHARDS 4096

static char *read_json_file(const char *path, size_t *n, photon_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) { err_set(err, "%s: cannot open: no such file", path); return NULL; }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_JSON) {
        err_set(err, "%s: not a regular file of at most %u MB", path, MAX_JSON >> 20);
        return NULL;
    }
    return file_read_all(path, n, err);
}

static int get_int(const jt *cfg, const char *key, const char *alt, int64_t lo, int64_t hi, int64_t *v, const char *path,
                   photon_err *err)
{
    const jt *x = jt_get(cfg, key);
    if (!x && alt) x = jt_get(cfg, alt);
    if (!jt_int(x, lo, hi, v)) {
        err_set(err, "%s: \"%s\": expected an integer in [%lld, %lld] (got %s)", path, key, (long long)lo, (long long)hi,
                jt_type_name(x));
        return -1;
    }
    return 0;
}

/* config.json: GPT-2's shape, and nothing photon-sim would compute differently. */
static int read_config(const char *dir, gpt2_config *c, photon_err *err)
{
    char p[4200];
    size_t n;
    photon_err e;
    path_join(p, sizeof p, dir, "config.json");
    char *text = read_json_file(p, &n, err);
    if (!text) return -1;
    jt_doc *d = jt_parse(text, n, &e);
    free(text);
    if (!d) { err_set(err, "%s: %s", p, e.msg); return -1; }
    const jt *r = jt_root(d);
    int rc = -1;
    int64_t L, H, C, T, V, inner = 0;
    const char *type = jt_get_str(r, "model_type");
    if (type && strcmp(type, "gpt2") != 0) {
        err_set(err, "%s: model_type '%s': only GPT-2 (model_type gpt2) can be imported", p, type);
        goto out;
    }
    if (get_int(r, "n_layer", NULL, 1, 1024, &L, p, err) || get_int(r, "n_head", NULL, 1, 1024, &H, p, err) ||
        get_int(r, "n_embd", NULL, 1, 1 << 20, &C, p, err) || get_int(r, "n_positions", "n_ctx", 1, 1 << 20, &T, p, err) ||
        get_int(r, "vocab_size", NULL, 1, 1 << 24, &V, p, err))
        goto out;
    const jt *ni = jt_get(r, "n_inner");
    if (ni && ni->type != JT_NULL && (!jt_int(ni, 0, INT64_MAX, &inner) || inner != 4 * C)) {
        err_set(err, "%s: n_inner must be null or 4 x n_embd = %lld (photon-sim's MLP is 4C wide)", p, (long long)(4 * C));
        goto out;
    }
    const char *act = jt_get_str(r, "activation_function");
    if (act && strcmp(act, "gelu_new") != 0 && strcmp(act, "gelu_pytorch_tanh") != 0) {
        err_set(err, "%s: activation_function '%s': photon-sim computes the tanh GELU (gelu_new)", p, act);
        goto out;
    }
    const jt *eps = jt_get(r, "layer_norm_epsilon");
    if (eps && (eps->type != JT_NUM || fabs(eps->v.num - 1e-5) > 1e-12)) {
        err_set(err, "%s: layer_norm_epsilon must be 1e-5, photon-sim's", p);
        goto out;
    }
    const struct { const char *key; int want; } flags[] = {
        { "scale_attn_weights", 1 }, { "scale_attn_by_inverse_layer_idx", 0 }, { "add_cross_attention", 0 },
        { "tie_word_embeddings", 1 },
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (jt_get_bool(r, flags[i].key, flags[i].want) != flags[i].want) {
            err_set(err, "%s: %s must be %s for photon-sim's GPT-2", p, flags[i].key, flags[i].want ? "true" : "false");
            goto out;
        }
    if (C % H) { err_set(err, "%s: n_embd = %lld is not a multiple of n_head = %lld", p, (long long)C, (long long)H); goto out; }
    c->n_layer = (int)L;
    c->n_head = (int)H;
    c->d_model = (int)C;
    c->seq_len = (int)T;
    c->vocab_size = c->padded_vocab = (int)V;
    rc = gpt2_config_check(c, err);
out:
    jt_free(d);
    return rc;
}

typedef struct {
    safetensors *f[MAX_SHARDS];
    char *file_name[MAX_SHARDS];
    int nf;
    jt_doc *index;          /* model.safetensors.index.json, or NULL */
    const jt *weight_map;
    char dir[4096];
} weights;

static void weights_close(weights *w)
{
    for (int i = 0; i < w->nf; i++) { st_close(w->f[i]); free(w->file_name[i]); }
    jt_free(w->index);
}

static safetensors *shard(weights *w, const char *file, photon_err *err)
{
    for (int i = 0; i < w->nf; i++) if (strcmp(w->file_name[i], file) == 0) return w->f[i];
    if (strchr(file, '/') || w->nf == MAX_SHARDS) {
        err_set(err, "%s/model.safetensors.index.json: '%s' is not a file name of this directory", w->dir, file);
        return NULL;
    }
    char p[4400];
    path_join(p, sizeof p, w->dir, file);
    safetensors *s = st_open(p, err);
    if (!s) return NULL;
    w->f[w->nf] = s;
    w->file_name[w->nf++] = xstrdup(file);
    return s;
}

static int weights_open(weights *w, const char *dir, photon_err *err)
{
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    char p[4200];
    path_join(p, sizeof p, dir, "model.safetensors");
    if (file_exists(p)) return shard(w, "model.safetensors", err) ? 0 : -1;
    path_join(p, sizeof p, dir, "model.safetensors.index.json");
    if (file_exists(p)) {
        size_t n;
        photon_err e;
        char *text = read_json_file(p, &n, err);
        if (!text) return -1;
        w->index = jt_parse(text, n, &e);
        free(text);
        if (!w->index) { err_set(err, "%s: %s", p, e.msg); return -1; }
        w->weight_map = jt_get(jt_root(w->index), "weight_map");
        if (!w->weight_map || w->weight_map->type != JT_OBJ) {
            err_set(err, "%s: no \"weight_map\" object", p);
            return -1;
        }
        for (size_t i = 0; i < w->weight_map->n; i++)
            if (w->weight_map->v.kids[i].type != JT_STR) { err_set(err, "%s: weight_map values must be file names", p); return -1; }
        return 0;
    }
    path_join(p, sizeof p, dir, "pytorch_model.bin");
    if (file_exists(p))
        err_set(err, "%s: only safetensors weights are read: convert pytorch_model.bin first "
                "(transformers: model.save_pretrained(dir, safe_serialization=True))", dir);
    else
        err_set(err, "%s: no model.safetensors or model.safetensors.index.json", dir);
    return -1;
}

/* The tensor called name, wherever it is; NULL (err untouched) if absent. */
static const st_tensor *find(weights *w, const char *name, safetensors **in, photon_err *err, int *failed)
{
    *failed = 0;
    if (!w->index) {
        *in = w->f[0];
        return st_find(w->f[0], name);
    }
    const char *file = jt_get_str(w->weight_map, name);
    if (!file) return NULL;
    if (!(*in = shard(w, file, err))) { *failed = 1; return NULL; }
    const st_tensor *t = st_find(*in, name);
    if (!t) { err_set(err, "%s/%s: has no tensor '%s', which the index places there", w->dir, file, name); *failed = 1; }
    return t;
}

/* Every tensor name the files hold (shard files listed by the index). */
static int for_each_name(weights *w, int (*fn)(void *ud, const char *name), void *ud)
{
    if (w->index) {
        for (size_t i = 0; i < w->weight_map->n; i++)
            if (fn(ud, w->weight_map->v.kids[i].key)) return 1;
        return 0;
    }
    const st_header *h = st_tensors(w->f[0]);
    for (size_t i = 0; i < h->n; i++)
        if (fn(ud, h->t[i].name)) return 1;
    return 0;
}

typedef struct { const gpt2_config *c; const char *bad; } name_check;

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Names that are neither a GPT-2 tensor nor one photon-sim may ignore. */
static int unexpected(void *ud, const char *name)
{
    name_check *x = ud;
    const char *n = strncmp(name, "transformer.", 12) == 0 ? name + 12 : name;
    if (strcmp(name, "lm_head.weight") == 0) return 0;
    if (strncmp(n, "h.", 2) == 0 && (ends_with(n, ".attn.bias") || ends_with(n, ".attn.masked_bias")))
        return 0;   /* the causal-mask buffers older GPT-2 checkpoints save */
    for (int k = 0; k < hf_gpt2_count(x->c); k++) {
        hf_tensor t;
        hf_gpt2_tensor(x->c, k, &t);
        if (strcmp(t.name + 12, n) == 0) return 0;
    }
    x->bad = name;
    return 1;
}

int hf_import(const char *dir, gpt2_config *c, float **params, photon_err *err)
{
    *params = NULL;
    if (read_config(dir, c, err)) return -1;
    weights w;
    if (weights_open(&w, dir, err)) { weights_close(&w); return -1; }
    int rc = -1;
    name_check nc = { c, NULL };
    if (for_each_name(&w, unexpected, &nc)) {
        err_set(err, "%s: tensor '%s' is not part of a GPT-2 language model (photon-sim imports GPT2LMHeadModel / GPT2Model)",
                dir, nc.bad);
        weights_close(&w);
        return -1;
    }
    gpt2_layout l;
    gpt2_layout_init(&l, c);
    float *flat = xmalloc_aligned(gpt2_num_params(c) * sizeof(float));
    float *buf = xmalloc(hf_gpt2_max_numel(c) * sizeof(float));
    for (int k = 0; k < hf_gpt2_count(c); k++) {
        hf_tensor t;
        hf_gpt2_tensor(c, k, &t);
        safetensors *in = NULL;
        int failed;
        const st_tensor *s = find(&w, t.name, &in, err, &failed);
        if (!s && !failed) s = find(&w, t.name + 12, &in, err, &failed);   /* GPT2Model: no prefix */
        if (failed) goto out;
        if (!s) { err_set(err, "%s: no tensor '%s' (nor '%s')", dir, t.name, t.name + 12); goto out; }
        int ok = s->rank == t.rank && s->shape[0] == t.dims[0] && (t.rank == 1 || s->shape[1] == t.dims[1]);
        if (!ok) {
            char got[96] = "";
            size_t len = 0;
            for (int d = 0; d < s->rank && len < sizeof got; d++)
                len += (size_t)snprintf(got + len, sizeof got - len, "%s%llu", d ? ", " : "", (unsigned long long)s->shape[d]);
            if (t.rank == 1) err_set(err, "%s: tensor '%s' has shape (%s), config.json says (%zu)", dir, s->name, got, t.dims[0]);
            else err_set(err, "%s: tensor '%s' has shape (%s), config.json says (%zu, %zu)", dir, s->name, got, t.dims[0], t.dims[1]);
            goto out;
        }
        if (st_read_f32(in, s, buf, err)) goto out;
        hf_gpt2_scatter(c, &l, &t, buf, flat);
    }
    /* an LM head must be wte itself (GPT2LMHeadModel ties them) */
    safetensors *in = NULL;
    int failed;
    const st_tensor *head = find(&w, "lm_head.weight", &in, err, &failed);
    if (failed) goto out;
    if (head) {
        size_t V = (size_t)c->vocab_size, C = (size_t)c->d_model;
        if (head->rank != 2 || head->shape[0] != V || head->shape[1] != C) {
            err_set(err, "%s: lm_head.weight's shape is not wte's (%zu, %zu)", dir, V, C);
            goto out;
        }
        float *hb = xmalloc(V * C * sizeof *hb);
        int read = st_read_f32(in, head, hb, err);
        int same = read == 0 && memcmp(hb, flat + l.offset[T_WTE], V * C * sizeof *hb) == 0;
        free(hb);
        if (read) goto out;
        if (!same) {
            err_set(err, "%s: lm_head.weight differs from wte: an untied LM head is not supported (photon-sim ties it to wte)", dir);
            goto out;
        }
    }
    *params = flat;
    flat = NULL;
    rc = 0;
out:
    free(flat);
    free(buf);
    weights_close(&w);
    return rc;
}

/* ---- starting a run from given weights -------------------------------------- */

int init_from_load(const char *path, const gpt2_config *want, float *theta, photon_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) { err_set(err, "[run] init_from: '%s' not found", path); return -1; }
    gpt2_config c;
    float *src = NULL;
    if (S_ISDIR(st.st_mode)) {
        if (hf_import(path, &c, &src, err)) { err_prefix(err, "[run] init_from"); return -1; }
    } else {
        ckpt_meta m;
        ckpt_reader *r = ckpt_open(path, &m, err);
        if (!r) { err_prefix(err, "[run] init_from"); return -1; }
        free((char *)m.config);
        int rc = ckpt_model_config(r, &c, err);
        if (rc == 0) {
            src = xmalloc_aligned(gpt2_num_params(&c) * sizeof(float));
            rc = ckpt_get_params(r, "/model", &c, src, err);
        }
        ckpt_close(r);
        if (rc) { free(src); err_prefix(err, "[run] init_from"); return -1; }
    }
    const struct { const char *what, *key; int have, need; } dims[] = {
        { "n_layer", "[model] n_layer", c.n_layer, want->n_layer },
        { "n_head", "[model] n_head", c.n_head, want->n_head },
        { "d_model", "[model] d_model", c.d_model, want->d_model },
        { "vocab_size", "the experiment's vocabulary ([model] vocab_size or the tokenizer's)", c.vocab_size, want->vocab_size },
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].have != dims[i].need) {
            err_set(err, "[run] init_from = %s: the model has %s = %d, but %s is %d", path, dims[i].what, dims[i].have,
                    dims[i].key, dims[i].need);
            free(src);
            return -1;
        }
    if (c.seq_len < want->seq_len) {
        err_set(err, "[run] init_from = %s: the model has %d positions, fewer than [model] seq_len = %d", path, c.seq_len,
                want->seq_len);
        free(src);
        return -1;
    }
    /* tensor by tensor: wte keeps its V rows (padding rows start at zero),
     * wpe its first seq_len rows, everything else as it is */
    gpt2_layout a, b;
    gpt2_layout_init(&a, &c);
    gpt2_layout_init(&b, want);
    size_t C = (size_t)c.d_model;
    for (int t = 0; t < GPT2_NUM_TENSORS; t++) {
        float *to = theta + b.offset[t];
        const float *from = src + a.offset[t];
        if (t == T_WTE) {
            memcpy(to, from, (size_t)c.vocab_size * C * sizeof *to);
            memset(to + (size_t)c.vocab_size * C, 0, (size_t)(want->padded_vocab - c.vocab_size) * C * sizeof *to);
        } else if (t == T_WPE) {
            memcpy(to, from, (size_t)want->seq_len * C * sizeof *to);
        } else {
            memcpy(to, from, b.size[t] * sizeof *to);
        }
    }
    free(src);
    return 0;
}
