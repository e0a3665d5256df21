/* Checks of a loaded configuration beyond single values: constraints between
 * keys that the per-key ranges of the schema cannot express, and that input
 * paths exist.  Each message points at where a key involved was set
 * (file:line or --set). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/config_schema.h"
#include "io/partition.h"

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
    bool known = false;
    for (int i = 0; i < c->data.sources.n && !known; i++) {
        char s[CFG_STR];
        partition_source_name(c->data.sources.item[i], s, sizeof s);
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

int cfg_check(const photon_config *c, const char *const *origin, const char *fallback, photon_err *err)
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
    if (c->data.sources.n == 0)
        return violation(&x, "data.sources", NULL, "[data] sources: expected at least one text source (got none)");
    if (!c->data.tokenizer[0])
        return violation(&x, "data.tokenizer", NULL, "[data] tokenizer: expected a directory or 'train' (got '')");
    if (strcmp(c->data.tokenizer, "train") == 0 && c->model.vocab_size && c->data.tokenizer_vocab > c->model.vocab_size)
        return violation(&x, "data.tokenizer_vocab", "model.vocab_size",
                         "[data] tokenizer_vocab = %d is more than [model] vocab_size = %d",
                         c->data.tokenizer_vocab, c->model.vocab_size);
    for (int i = 0; c->data.partition == PART_BY_SOURCE && i < c->data.assign.n; i++)
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
    bool want_dir = strcmp(r->key, "tokenizer") == 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        err_set(err, "%s: [%s] %s: '%s' not found (%s)", where, r->section, r->key, path, strerror(errno));
        return -1;
    }
    if (want_dir != !!S_ISDIR(st.st_mode)) {
        err_set(err, "%s: [%s] %s: expected %s (got '%s')", where, r->section, r->key,
                want_dir ? "a directory with encoder.json and vocab.bpe" : "a file, not a directory", path);
        return -1;
    }
    return 0;
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
    return 0;
}
