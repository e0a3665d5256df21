/* Checks of a loaded configuration beyond single values: constraints between
 * keys that the per-key ranges of the schema cannot express, and that input
 * paths exist.  Each message points at where a key involved was set
 * (file:line or --set). */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/config_schema.h"
#include "io/partition.h"
#include "io/srcset.h"
#include "io/val_index.h"

typedef struct {
    const char *const *origin;
    const char *fallback;
    photon_err *err;
} check_ctx;

/* Reports a violation at the origin of the first of keys a, b that was set. */
static int violation(check_ctx *x, const char *a, const char *b, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int violation(check_ctx *x, const char *a, const char *b, const char *fmt, ...)
{
    const char *where = NULL;
    const char *keys[2] = { a, b };
    for (int i = 0; i < 2 && !where && x->origin; i++) {
        if (!keys[i]) continue;
        char sec[64];
        const char *dot = strchr(keys[i], '.');
        snprintf(sec, sizeof sec, "%.*s", (int)(dot - keys[i]), keys[i]);
        int k = cfg_find(sec, dot + 1);
        if (k >= 0 && x->origin[k]) where = x->origin[k];
    }
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(x->err, "%s: %s", where ? where : x->fallback, msg);
    return -1;
}

/* by_source assignment "name=0-1+4": known source, clients in [0, count). */
static int check_assign(check_ctx *x, const photon_config *c, const char *item)
{
    const char *eq = strchr(item, '=');
    if (!eq)
        return violation(x, "data.assign", NULL, "[data] assign: expected name=clients, e.g. wiki=0-1 (got '%s')", item);
    char name[CFG_STR];
    snprintf(name, sizeof name, "%.*s", (int)(eq - item), item);
    bool known = c->data.partition == PART_BY_FIELD;   /* field values are only known once read */
    for (int i = 0; i < c->data.sources.n && !known; i++) {
        char s[CFG_STR];
        const char *item = c->data.sources.item[i];
        /* an unnamed pattern's files are named after themselves: checked by prepare */
        if (partition_source_path(item) == item && srcset_is_glob(item)) { known = true; break; }
        partition_source_name(item, s, sizeof s);
        known = strcmp(s, name) == 0;
    }
    if (!known)
        return violation(x, "data.assign", "data.sources", "[data] assign: '%s' is not the name of a [data] sources item", name);
    const char *p = eq + 1;
    do {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p) goto bad;
        if (*end == '-') { p = end + 1; hi = strtol(p, &end, 10); if (end == p) goto bad; }
        if (lo < 0 || hi < lo || hi >= c->clients.count)
            return violation(x, "data.assign", "clients.count", "[data] assign: clients of '%s' must be in [0, %d) (got '%s')",
                             name, c->clients.count, eq + 1);
        p = end;
    } while (*p == '+' && *++p);
    if (*p == 0) return 0;
bad:
    return violation(x, "data.assign", NULL, "[data] assign: expected client ranges like 0-1+4 after '%s=' (got '%s')",
                     name, eq + 1);
}

/* mode = centralized: the global batch splits into whole micro-batches. */
static int check_centralized(check_ctx *x, const photon_config *c)
{
    int k = c->clients.per_round > 0 && c->clients.per_round < c->clients.count ? c->clients.per_round : c->clients.count;
    long g = c->centralized.batch_size > 0 ? c->centralized.batch_size : (long)c->clients.batch_size * k;
    int micro = c->clients.batch_size / c->clients.grad_accum;
    if (c->centralized.grad_accum > 0 && g % c->centralized.grad_accum)
        return violation(x, "centralized.grad_accum", "centralized.batch_size",
                         "[centralized] grad_accum = %d does not divide the global batch of %ld sequences",
                         c->centralized.grad_accum, g);
    if (c->centralized.grad_accum == 0 && g % micro)
        return violation(x, "centralized.batch_size", "centralized.grad_accum",
                         "[centralized] batch_size = %ld is not a multiple of the clients' micro-batch of %d sequences "
                         "(set [centralized] grad_accum)", g, micro);
    if (c->centralized.min_lr_ratio < 0 && c->centralized.min_lr_ratio != -1)
        return violation(x, "centralized.min_lr_ratio", NULL,
                         "[centralized] min_lr_ratio: expected -1 (inherit) or a value in [0, 1] (got %g)",
                         c->centralized.min_lr_ratio);
    return 0;
}

/* [network]: per-client lists name every client; round_timeout on the
 * simulated clock with measured compute needs every sampled client's time
 * before any update is added (supervisor/netclock.h), so each must have an
 * actor of its own. */
static int check_network(check_ctx *x, const photon_config *c)
{
    const struct { const cfg_perclient *p; const char *key; } pc[] = {
        { &c->network.bandwidth_mbps, "network.bandwidth_mbps" },
        { &c->network.latency_ms, "network.latency_ms" },
        { &c->network.compute_scale, "network.compute_scale" },
    };
    for (size_t i = 0; i < sizeof pc / sizeof pc[0]; i++)
        if (pc[i].p->kind == DIST_LIST && pc[i].p->n != c->clients.count)
            return violation(x, pc[i].key, "clients.count",
                             "[network] %s: %d values for %d clients ([clients] count): give one value, "
                             "one per client, or a distribution", strchr(pc[i].key, '.') + 1, pc[i].p->n,
                             c->clients.count);
    int k = c->clients.per_round ? c->clients.per_round : c->clients.count;
    if (c->run.mode == MODE_FEDERATED && c->aggregator.round_timeout > 0 && c->network.compute == COMPUTE_MEASURED &&
        c->clients.actors < k)
        return violation(x, "aggregator.round_timeout", "network.compute",
                         "[aggregator] round_timeout acts on the simulated clock with [network]; with compute = measured "
                         "every sampled client needs an actor of its own ([clients] actors = %d, %d clients per round): "
                         "raise actors, or set [network] compute = model", c->clients.actors, k);
    if (c->run.mode == MODE_FEDERATED && c->aggregator.round_timeout > 0 && c->network.compute == COMPUTE_MEASURED &&
        (c->aggregator.fragments > 1 || c->aggregator.overlap))
        return violation(x, "aggregator.round_timeout", "aggregator.fragments",
                         "[aggregator] round_timeout on the simulated clock with [network] compute = measured needs "
                         "every client's whole round before deciding who is late, which streaming fragments "
                         "(fragments > 1 or overlap) do not wait for: set [network] compute = model");
    return 0;
}

int cfg_check(const photon_config *c, const char *const *origin, const char *fallback, photon_err *err)
{
    return cfg_check_ex(c, origin, fallback, 1, err);
}

int cfg_check_ex(const photon_config *c, const char *const *origin, const char *fallback, int need_data,
                 photon_err *err)
{
    check_ctx x = { origin, fallback, err };
    if (!c->run.name[0] || c->run.name[0] == '.')
        return violation(&x, "run.name", NULL, "[run] name: expected a name for the run directory (got '%s')", c->run.name);
    for (const char *p = c->run.name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
            return violation(&x, "run.name", NULL,
                             "[run] name: expected letters, digits, '.', '_' or '-' (got '%s')", c->run.name);
    if (c->model.d_model % c->model.n_head)
        return violation(&x, "model.d_model", "model.n_head", "[model] d_model = %d is not a multiple of [model] n_head = %d",
                         c->model.d_model, c->model.n_head);
    if (need_data && c->data.sources.n == 0)
        return violation(&x, "data.sources", NULL, "[data] sources: expected at least one text source (got none)");
    if (need_data && !c->data.tokenizer[0])
        return violation(&x, "data.tokenizer", NULL, "[data] tokenizer: expected a directory or 'train' (got '')");
    if (strcmp(c->data.tokenizer, "train") == 0 && c->model.vocab_size && c->data.tokenizer_vocab > c->model.vocab_size)
        return violation(&x, "data.tokenizer_vocab", "model.vocab_size",
                         "[data] tokenizer_vocab = %d is more than [model] vocab_size = %d",
                         c->data.tokenizer_vocab, c->model.vocab_size);
    if (c->data.partition == PART_BY_FIELD && !c->data.source_field[0])
        return violation(&x, "data.partition", "data.source_field",
                         "[data] partition = by_field needs [data] source_field (the member naming each document's source, e.g. meta.pile_set_name)");
    const struct { const char *v, *key; } paths[] = { { c->data.text_key, "text_key" }, { c->data.source_field, "source_field" } };
    for (int i = 0; i < 2; i++) {
        const char *v = paths[i].v;
        size_t n = strlen(v);
        bool empty_ok = i == 1;
        if ((n == 0 && !empty_ok) || (n && (v[0] == '.' || v[n - 1] == '.' || strstr(v, ".."))))
            return violation(&x, i ? "data.source_field" : "data.text_key", NULL,
                             "[data] %s: expected a member name or a dotted path such as meta.text (got '%s')", paths[i].key, v);
    }
    for (int i = 0; (c->data.partition == PART_BY_SOURCE || c->data.partition == PART_BY_FIELD) && i < c->data.assign.n; i++)
        if (check_assign(&x, c, c->data.assign.item[i]) < 0) return -1;
    if (c->clients.per_round > c->clients.count)
        return violation(&x, "clients.per_round", "clients.count", "[clients] per_round = %d is more than [clients] count = %d",
                         c->clients.per_round, c->clients.count);
    int k = c->clients.per_round ? c->clients.per_round : c->clients.count;
    if (c->aggregator.min_clients > k)
        return violation(&x, "aggregator.min_clients", "clients.per_round",
                         "[aggregator] min_clients = %d is more than the %d clients sampled per round",
                         c->aggregator.min_clients, k);
    if (c->aggregator.min_actors > c->clients.actors)
        return violation(&x, "aggregator.min_actors", "clients.actors",
                         "[aggregator] min_actors = %d is more than [clients] actors = %d",
                         c->aggregator.min_actors, c->clients.actors);
    if (c->clients.batch_size % c->clients.grad_accum)
        return violation(&x, "clients.grad_accum", "clients.batch_size",
                         "[clients] grad_accum = %d does not divide [clients] batch_size = %d",
                         c->clients.grad_accum, c->clients.batch_size);
    if (c->aggregator.fragments > c->model.n_layer + 1)
        return violation(&x, "aggregator.fragments", "model.n_layer",
                         "[aggregator] fragments = %d: a model of %d blocks splits into at most %d fragments "
                         "(the embeddings and each block are the units)",
                         c->aggregator.fragments, c->model.n_layer, c->model.n_layer + 1);
    if (c->aggregator.fragments > c->clients.local_steps)
        return violation(&x, "aggregator.fragments", "clients.local_steps",
                         "[aggregator] fragments = %d is more than [clients] local_steps = %d (each fragment's phase needs a step)",
                         c->aggregator.fragments, c->clients.local_steps);
    if (c->run.mode == MODE_CENTRALIZED) {
        const char *k = c->aggregator.compression ? "aggregator.compression"
                        : c->aggregator.broadcast_compression ? "aggregator.broadcast_compression"
                        : c->aggregator.fragments > 1 ? "aggregator.fragments"
                        : c->aggregator.overlap ? "aggregator.overlap" : NULL;
        if (k) return violation(&x, k, "run.mode", "[aggregator] %s applies to federated runs: mode = centralized "
                                "trains one model and exchanges nothing", strchr(k, '.') + 1);
    }
    if (c->eval.on == EVAL_ON_ACTOR && c->aggregator.broadcast_compression)
        return violation(&x, "eval.on", "aggregator.broadcast_compression",
                         "[eval] on = actor: with broadcast_compression the actors hold only the compressed model; "
                         "the global model is evaluated on the supervisor (on = supervisor or auto)");
    if (c->run.mode == MODE_CENTRALIZED && check_centralized(&x, c) < 0) return -1;
    if (c->eval.tokens > 0 && c->eval.tokens < c->model.seq_len)
        return violation(&x, "eval.tokens", "model.seq_len",
                         "[eval] tokens = %lld is less than one window of [model] seq_len = %d tokens",
                         (long long)c->eval.tokens, c->model.seq_len);
    /* Per-source perplexities are keyed by name. */
    for (int i = 0; i < c->data.validation.n; i++)
        for (int j = 0; j < i; j++) {
            char a[CFG_STR], b[CFG_STR];
            partition_source_name(c->data.validation.item[i], a, sizeof a);
            partition_source_name(c->data.validation.item[j], b, sizeof b);
            if (strcmp(a, b) == 0)
                return violation(&x, "data.validation", NULL,
                                 "[data] validation: two items are named '%s' (give one a name: name=path)", a);
        }
    {
        const char *k[3] = { "aggregator.tls_ca", "aggregator.tls_cert", "aggregator.tls_key" };
        int set[3] = { c->aggregator.tls_ca[0] != 0, c->aggregator.tls_cert[0] != 0, c->aggregator.tls_key[0] != 0 };
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                if (set[i] && !set[j])   /* named where the set one is */
                    return violation(&x, k[i], NULL,
                                     "[aggregator] tls_ca, tls_cert and tls_key go together (%s is set, %s is not)",
                                     k[i] + 11, k[j] + 11);
        if (set[0] && c->aggregator.key_file[0])
            return violation(&x, "aggregator.key_file", "aggregator.tls_cert",
                             "[aggregator] key_file and tls_cert are two ways to authenticate remote actors: set one");
    }
    if (c->aggregator.link == LINK_TCP && !c->aggregator.listen[0])
        return violation(&x, "aggregator.listen", "aggregator.link", "[aggregator] listen: expected host:port when link = tcp (got '')");
    const struct { int v; const char *key; } fc[] = {
        { c->faults.kill_client, "faults.kill_client" },
        { c->faults.stall_client, "faults.stall_client" },
        { c->faults.corrupt_client, "faults.corrupt_client" },
    };
    for (size_t i = 0; i < sizeof fc / sizeof fc[0]; i++)
        if (fc[i].v >= c->clients.count)
            return violation(&x, fc[i].key, "clients.count", "[faults] %s = %d: there are only %d clients (0..%d)",
                             strchr(fc[i].key, '.') + 1, fc[i].v, c->clients.count, c->clients.count - 1);
    if (c->network.present && check_network(&x, c) < 0) return -1;
    return 0;
}

/* One input path: it must exist, as a directory for a tokenizer and as a file otherwise. */
static int check_input(int k, const char *item, const char *const *origin, const char *fallback, photon_err *err)
{
    const cfg_key *r = &cfg_keys[k];
    const char *path = item;
    const char *eq = strchr(item, '=');
    if (r->type == CFG_T_PATHLIST && eq && memchr(item, '/', (size_t)(eq - item)) == NULL) path = eq + 1;
    if (!*path || (r->keep && strcmp(path, r->keep) == 0)) return 0;
    const char *where = origin && origin[k] ? origin[k] : fallback;
    bool want_dir = strcmp(r->key, "tokenizer") == 0, either = strcmp(r->key, "init_from") == 0;
    if (r->type == CFG_T_PATHLIST && srcset_is_glob(path)) {
        glob_t g;
        int rc = glob(path, 0, NULL, &g);
        size_t n = rc == 0 ? g.gl_pathc : 0;
        globfree(&g);
        if (n == 0) {
            err_set(err, "%s: [%s] %s: '%s' matches no file", where, r->section, r->key, path);
            return -1;
        }
        return 0;   /* the files themselves are checked when they are read */
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        err_set(err, "%s: [%s] %s: '%s' not found (%s)", where, r->section, r->key, path, strerror(errno));
        return -1;
    }
    if (either) return 0;
    if (want_dir != !!S_ISDIR(st.st_mode)) {
        err_set(err, "%s: [%s] %s: expected %s (got '%s')", where, r->section, r->key,
                want_dir ? "a tokenizer directory (tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe)"
                         : "a file, not a directory", path);
        return -1;
    }
    if (!want_dir && !S_ISREG(st.st_mode)) {
        err_set(err, "%s: [%s] %s: '%s' is %s, not a regular file (sources are read more than once)", where, r->section,
                r->key, path, S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)" : "a device or socket");
        return -1;
    }
    return 0;
}

/* Adds name to the distinct names seen (at most VAL_MAX_SOURCES + 1 kept):
 * 1 when it is one too many. */
static int add_val_name(char (*seen)[CFG_STR], int *n, const char *name)
{
    for (int i = 0; i < *n; i++) if (strcmp(seen[i], name) == 0) return 0;
    snprintf(seen[(*n)++], CFG_STR, "%s", name);
    return *n > VAL_MAX_SOURCES;
}

/* [data] validation names at most VAL_MAX_SOURCES sources (the evaluation
 * keeps a perplexity per source in fixed arrays, proto/protocol.h).  Counted
 * as prepare names them (io/srcset.h), unnamed patterns expanded, so a run
 * with one too many stops here, before any data is read, not in prepare. */
static int check_val_sources(const photon_config *c, const char *const *origin, const char *fallback, photon_err *err)
{
    check_ctx x = { origin, fallback, err };
    char (*seen)[CFG_STR] = xmalloc((VAL_MAX_SOURCES + 1) * sizeof *seen);
    char name[CFG_STR];
    int n = 0, over = 0;
    for (int i = 0; i < c->data.validation.n && !over; i++) {
        const char *item = c->data.validation.item[i], *path = partition_source_path(item);
        if (path != item || !srcset_is_glob(path)) {   /* named, or one file: one source */
            partition_source_name(path != item ? item : path, name, sizeof name);
            over = add_val_name(seen, &n, name);
            continue;
        }
        glob_t g;
        if (glob(path, 0, NULL, &g) == 0)
            for (size_t k = 0; k < g.gl_pathc && !over; k++) {
                partition_source_name(g.gl_pathv[k], name, sizeof name);
                over = add_val_name(seen, &n, name);
            }
        globfree(&g);
    }
    free(seen);
    if (!over) return 0;
    char msg[CFG_STR + 200];
    val_too_many(msg, sizeof msg, name);
    return violation(&x, "data.validation", NULL, "%s", msg);
}

int cfg_check_inputs(const photon_config *c, const char *const *origin, const char *fallback, photon_err *err)
{
    for (int k = 0; k < cfg_nkeys; k++) {
        if (!cfg_keys[k].input) continue;
        const char *f = (const char *)c + cfg_keys[k].offset;
        if (cfg_keys[k].type == CFG_T_PATH) {
            if (check_input(k, f, origin, fallback, err) < 0) return -1;
            continue;
        }
        const cfg_list *l = (const cfg_list *)f;
        for (int i = 0; i < l->n; i++)
            if (check_input(k, l->item[i], origin, fallback, err) < 0) return -1;
    }
    return check_val_sources(c, origin, fallback, err);
}
