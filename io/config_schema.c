/* The experiment-file schema (DESIGN §4): every key of every section, its
 * type, default, range or allowed values, and one line of help.  This table
 * is the single source for parsing, validation, defaults, --set overrides,
 * the resolved dump and the generated reference (docs/CONFIG.md).
 * Adding a key = one field in io/config.h + one row here. */
#include <stddef.h>
#include <string.h>
#include "io/config_schema.h"

#define FLD(s, k) offsetof(photon_config, s.k), sizeof(((photon_config *)0)->s.k)
#define ROW(s, k, t, def, rng, lo, hi, ch, keep, help) \
    { #s, #k, t, FLD(s, k), def, rng, lo, hi, ch, keep, help, false }
/* Numeric rows: [lo, hi] inclusive; *_GE: lower bound only; *_GT: lo excluded. */
#define INT(s, k, def, lo, hi, help) ROW(s, k, CFG_T_INT, def, CFG_MIN | CFG_MAX, lo, hi, NULL, NULL, help)
#define I64(s, k, def, lo, help) ROW(s, k, CFG_T_I64, def, CFG_MIN, lo, 0, NULL, NULL, help)
#define U64(s, k, def, help) ROW(s, k, CFG_T_U64, def, 0, 0, 0, NULL, NULL, help)
#define DBL(s, k, def, rng, lo, hi, help) ROW(s, k, CFG_T_DOUBLE, def, rng, lo, hi, NULL, NULL, help)
#define BOOL(s, k, def, help) ROW(s, k, CFG_T_BOOL, def, 0, 0, 0, NULL, NULL, help)
#define STR(s, k, def, help) ROW(s, k, CFG_T_STRING, def, 0, 0, 0, NULL, NULL, help)
#define CHOICE(s, k, def, ch, help) ROW(s, k, CFG_T_CHOICE, def, 0, 0, 0, ch, NULL, help)
#define ENUM(s, k, def, ch, help) ROW(s, k, CFG_T_ENUM, def, 0, 0, 0, ch, NULL, help)
#define LIST(s, k, help) ROW(s, k, CFG_T_LIST, "", 0, 0, 0, NULL, NULL, help)
#define PATH(s, k, def, keep, help) ROW(s, k, CFG_T_PATH, def, 0, 0, 0, NULL, keep, help)
#define PATHS(s, k, help) ROW(s, k, CFG_T_PATHLIST, "", 0, 0, 0, NULL, NULL, help)
/* Per-client numbers: the range bounds each value and each distribution bound. */
#define PERCLIENT(s, k, def, rng, lo, hi, help) ROW(s, k, CFG_T_PERCLIENT, def, rng, lo, hi, NULL, NULL, help)
/* Input paths: they must exist when the configuration is loaded. */
#define IN_PATH(s, k, def, keep, help) { #s, #k, CFG_T_PATH, FLD(s, k), def, 0, 0, 0, NULL, keep, help, true }
#define IN_PATHS(s, k, help) { #s, #k, CFG_T_PATHLIST, FLD(s, k), "", 0, 0, 0, NULL, NULL, help, true }

#define CLOSED (CFG_MIN | CFG_MAX)
#define POS (CFG_MIN | CFG_MAX | CFG_MIN_OPEN)        /* (lo, hi] */
#define UNIT_OPEN (CFG_MIN | CFG_MAX | CFG_MAX_OPEN)  /* [lo, hi) */
#define BIG 1e9

/* Enum choices: the position is the enum value in io/config.h. */
static const char *const backends[] = { "auto", "cpu", "cuda", NULL };
static const char *const modes[] = { "federated", "centralized", NULL };
static const char *const precisions[] = { "fp32", "bf16", NULL };
static const char *const partitions[] = { "iid", "by_source", "dirichlet", "by_field", NULL };
static const char *const schedules[] = { "cosine", "constant", "linear", NULL };
static const char *const optstates[] = { "reset", "keep", NULL };
static const char *const cschedules[] = { "inherit", "cosine", "constant", "linear", NULL };
static const char *const eval_ons[] = { "auto", "supervisor", "actor", NULL };
static const char *const strategies[] = { "fedavg", "fedmom", "nesterov", NULL };
static const char *const links[] = { "shm", "tcp", NULL };
static const char *const signals[] = { "KILL", "SEGV", "ABRT", "exit", NULL };
static const char *const corruptions[] = { "none", "nan", "scale", "bitflip", NULL };
static const char *const encodings[] = { "none", "bf16", "int8", "fp4", NULL };   /* = quant_kind (gpu/quant.h) */
static const char *const computes[] = { "measured", "model", NULL };

const cfg_section cfg_sections[] = {
    { "run", "What to run, where its outputs go, on which backend" },
    { "model", "The GPT-2 shape (docs/MODEL.md)" },
    { "data", "Text sources, tokenizer and how data is split over clients" },
    { "clients", "The virtual clients and their local training (inner AdamW)" },
    { "centralized", "The centralized baseline's own recipe (mode = centralized); each default inherits [clients]" },
    { "aggregator", "The server: outer optimizer, round policy and link" },
    { "supervision", "Actor restarts (OTP-style limits) and shutdown" },
    { "checkpoint", "HDF5 checkpoints of the global model and optimizer state" },
    { "eval", "Validation loss and perplexity of the global model" },
    { "faults", "Seeded fault injection for robustness studies" },
    { "network", "Optional: the clients' links and speeds, for the simulated clock (docs/NETWORK.md). "
                 "Without this section there is no network model" },
};
const int cfg_nsections = sizeof cfg_sections / sizeof cfg_sections[0];

const cfg_optional cfg_optionals[] = {
    { "network", offsetof(photon_config, network.present) },
};
const int cfg_noptionals = sizeof cfg_optionals / sizeof cfg_optionals[0];

size_t cfg_present_off(int s)
{
    for (int i = 0; s >= 0 && s < cfg_nsections && i < cfg_noptionals; i++)
        if (strcmp(cfg_optionals[i].name, cfg_sections[s].name) == 0) return cfg_optionals[i].present_off;
    return 0;
}

const cfg_key cfg_keys[] = {
    STR(run, name, "photon", "run name; the run directory is runs/<name> unless out_dir is set"),
    PATH(run, out_dir, "", NULL, "run directory (metrics, resolved config, checkpoints); empty = runs/<name>"),
    U64(run, seed, "42", "seed of every random choice (init, data order, sampling, faults)"),
    ENUM(run, backend, "auto", backends, "compute backend; auto = cuda when a GPU is present, else cpu"),
    INT(run, rounds, "10", 1, BIG, "number of federated rounds (centralized: evaluation periods)"),
    ENUM(run, mode, "federated", modes, "federated (LocalSGD + outer optimizer) or centralized baseline"),
    INT(run, threads, "0", 0, 4096, "CPU threads per actor; 0 = online cores / actors"),
    ENUM(run, precision, "bf16", precisions, "cuda backend compute precision (master weights stay fp32); cpu is always fp32"),
    IN_PATH(run, init_from, "", NULL, "start from these weights: a checkpoint (.h5) or a Hugging Face GPT-2 directory (safetensors); a fresh run (round 0, new optimizer state); empty = random init"),

    INT(model, n_layer, "2", 1, 1024, "transformer blocks"),
    INT(model, n_head, "2", 1, 1024, "attention heads (must divide d_model)"),
    INT(model, d_model, "64", 1, 1 << 20, "embedding width C"),
    INT(model, seq_len, "64", 1, 1 << 20, "context length T (positions)"),
    INT(model, vocab_size, "0", 0, 1 << 24, "vocabulary size V; 0 = take it from the tokenizer"),
    INT(model, pad_vocab, "1", 1, 1 << 16, "pad V up to a multiple of this (64 gives GPT-2's 50304); 1 = no padding"),
    DBL(model, init_std, "0.02", POS, 0, 1, "standard deviation of the weight initialisation"),

    IN_PATHS(data, sources, "sources: 'path' or 'name=path', paths may be glob patterns (JSON Lines, text with <|endoftext|>, plain/gzip/zstd; llm.c .bin token shards)"),
    IN_PATH(data, tokenizer, "train", "train", "tokenizer directory (tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe), or 'train' to train a byte-level BPE on the sources"),
    INT(data, tokenizer_vocab, "4096", 257, 1 << 24, "vocabulary size of the trained BPE (tokenizer = train)"),
    ENUM(data, partition, "iid", partitions, "how documents are dealt to clients (by_field: by the source_field value of each document)"),
    LIST(data, assign, "by_source / by_field: name=clients items (a source name or a field value), clients as ranges joined by +, e.g. wiki=0-1, c4=2+3, books=4; empty = sources dealt evenly"),
    DBL(data, alpha, "0.5", POS, 0, 1e6, "dirichlet concentration of each client's source mixture"),
    IN_PATHS(data, validation, "validation sources: 'path' or 'name=path' (name = file stem); each gets its own perplexity, at most 16 sources; empty = no validation set"),
    PATH(data, prepared_dir, "", NULL, "where tokenized shards go; empty = <run dir>/data"),
    I64(data, max_docs, "0", 0, "cap on documents read per source; 0 = all"),
    STR(data, text_key, "text", "JSON Lines: the member that holds a document's text; a dotted path reaches into nested objects (meta.text)"),
    STR(data, source_field, "", "JSON Lines: a member (dotted path, e.g. meta.pile_set_name) whose value is each document's source for by_field and dirichlet; empty = none"),
    INT(data, max_doc_mb, "64", 1, 4096, "longest document (JSON line, or text between separators) in MB; a longer one stops prepare with an error"),

    INT(clients, count, "4", 1, 1000000, "N virtual clients (data shards)"),
    INT(clients, per_round, "0", 0, 1000000, "K clients sampled per round; 0 = all"),
    INT(clients, actors, "1", 1, 4096, "P actor processes running client tasks"),
    INT(clients, local_steps, "16", 1, BIG, "T_local optimizer steps per client per round"),
    INT(clients, batch_size, "8", 1, 1000000, "sequences per optimizer step (per client)"),
    INT(clients, grad_accum, "1", 1, 1000000, "micro-batches accumulated per step (batch_size is split over them)"),
    DBL(clients, lr, "6e-4", POS, 0, 100, "peak learning rate of the inner AdamW"),
    DBL(clients, min_lr_ratio, "0.1", CLOSED, 0, 1, "final learning rate as a fraction of lr (cosine, linear)"),
    INT(clients, warmup, "0", 0, BIG, "linear warmup steps on the global step clock"),
    ENUM(clients, schedule, "cosine", schedules, "learning-rate decay after warmup over rounds x local_steps"),
    DBL(clients, weight_decay, "0.1", CLOSED, 0, 100, "AdamW decoupled weight decay (matrices only)"),
    DBL(clients, grad_clip, "1.0", CLOSED, 0, 1e9, "clip the global gradient norm to this; 0 = off"),
    DBL(clients, beta1, "0.9", UNIT_OPEN, 0, 1, "AdamW beta1"),
    DBL(clients, beta2, "0.95", UNIT_OPEN, 0, 1, "AdamW beta2"),
    DBL(clients, eps, "1e-8", POS, 0, 1, "AdamW epsilon"),
    ENUM(clients, optimizer_state, "keep", optstates, "client AdamW state: reset each round or keep per client"),

    INT(centralized, batch_size, "0", 0, 1000000, "global batch in sequences per step; 0 = clients.batch_size x per_round"),
    INT(centralized, grad_accum, "0", 0, 1000000, "micro-batches per step (batch_size is split over them); 0 = batch_size / the clients' micro-batch (clients.batch_size / clients.grad_accum)"),
    DBL(centralized, lr, "0", CLOSED, 0, 100, "peak learning rate; 0 = clients.lr"),
    DBL(centralized, min_lr_ratio, "-1", CLOSED, -1, 1, "final learning rate as a fraction of lr; -1 = clients.min_lr_ratio"),
    INT(centralized, warmup, "-1", -1, BIG, "linear warmup steps; -1 = clients.warmup"),
    ENUM(centralized, schedule, "inherit", cschedules, "learning-rate decay after warmup; inherit = clients.schedule"),

    ENUM(aggregator, strategy, "fedavg", strategies, "outer optimizer over the averaged pseudo-gradient"),
    DBL(aggregator, server_lr, "1.0", POS, 0, 100, "outer learning rate eta_s"),
    DBL(aggregator, momentum, "0", UNIT_OPEN, 0, 1, "outer momentum mu (fedmom, nesterov)"),
    INT(aggregator, min_clients, "1", 1, 1000000, "updates needed for a round to count; else it is retried"),
    DBL(aggregator, round_timeout, "0", CLOSED, 0, 1e7, "seconds before a client task is given up; 0 = none"),
    ENUM(aggregator, link, "shm", links, "weights move by POSIX shared memory (local) or TCP (remote actors)"),
    STR(aggregator, listen, "127.0.0.1:0", "host:port the supervisor listens on when link = tcp (port 0 = any)"),
    IN_PATH(aggregator, key_file, "", NULL, "shared secret that remote actors must present (link = tcp)"),
    IN_PATH(aggregator, tls_ca, "", NULL, "link = tcp with certificates: PEM CA file that every actor's certificate must chain to (instead of the run key; with tls_cert and tls_key)"),
    IN_PATH(aggregator, tls_cert, "", NULL, "link = tcp with certificates: the supervisor's PEM certificate (chain), checked by the actors against their --tls-ca"),
    IN_PATH(aggregator, tls_key, "", NULL, "link = tcp with certificates: the private key of tls_cert (PEM, unencrypted)"),
    INT(aggregator, min_actors, "1", 1, 4096, "link = tcp: the first round starts once this many remote actors are connected (at most clients.actors)"),
    DBL(aggregator, connect_timeout, "600", CLOSED, 0, 1e7, "link = tcp: seconds without any remote actor connected before the run fails; 0 = wait forever"),
    INT(aggregator, max_retries, "3", 0, 1000000, "times a failed round is retried before the run fails"),
    BOOL(aggregator, requeue, "false", "re-run a failed client's task within the round"),
    DBL(aggregator, reject_norm, "100", CLOSED, 0, 1e12, "reject updates whose norm exceeds this x the round's median; 0 = off"),
    ENUM(aggregator, compression, "none", encodings, "the client's update as sent: fp32 (none), bf16, int8 or fp4 with per-block scales (docs/ROUNDS.md)"),
    ENUM(aggregator, broadcast_compression, "none", encodings, "the model as sent to the clients: none, bf16, int8 or fp4"),
    BOOL(aggregator, error_feedback, "false", "each client keeps what quantisation dropped and adds it to its next update"),
    INT(aggregator, fragments, "1", 1, 64, "F: split the model into F fragments, each synchronised at its own phase of the round (Streaming DiLoCo)"),
    BOOL(aggregator, overlap, "false", "clients keep training while a fragment is in flight and merge it one phase later"),
    DBL(aggregator, overlap_mix, "0.5", UNIT_OPEN, 0, 1, "overlap: on arrival, local = mix x local + (1 - mix) x global"),

    INT(supervision, restarts, "3", 0, 1000000, "at most this many restarts of one actor ..."),
    DBL(supervision, window, "60", POS, 0, 1e9, "... within this many seconds"),
    INT(supervision, run_restarts, "20", 0, 1000000, "restarts allowed over the whole run"),
    DBL(supervision, backoff, "0.1", CLOSED, 0, 3600, "first restart delay in seconds (doubles each time)"),
    DBL(supervision, grace, "5", CLOSED, 0, 3600, "seconds between SIGTERM and SIGKILL at shutdown"),

    INT(checkpoint, every, "0", 0, BIG, "write a checkpoint every this many rounds; 0 = only at the end"),
    INT(checkpoint, keep, "2", 0, 1000000, "checkpoints kept; 0 = all"),
    PATH(checkpoint, dir, "", NULL, "checkpoint directory; empty = <run dir>/checkpoints"),

    INT(eval, every, "1", 0, BIG, "evaluate every this many rounds; 0 = only at the end"),
    INT(eval, batches, "8", 0, 1000000, "validation batches per evaluation (when tokens = 0, the budget is batches x batch_size x seq_len tokens); 0 = no evaluation"),
    INT(eval, batch_size, "0", 0, 1000000, "sequences per validation batch; 0 = the training micro-batch (clients.batch_size / grad_accum; centralized: its own)"),
    I64(eval, tokens, "0", 0, "validation tokens scored per evaluation, in windows spread over every validation source; more than the set holds = every window; 0 = batches x batch_size x seq_len"),
    ENUM(eval, on, "auto", eval_ons, "where evaluation runs: an actor (a task on its device) or the supervisor (its CPU); auto = actor when the backend is cuda"),

    U64(faults, seed, "0", "seed of the fault draws; 0 = run.seed"),
    INT(faults, kill_round, "-1", -1, BIG, "round in which an actor is killed; -1 = none (see kill_prob)"),
    INT(faults, kill_client, "-1", -1, 1000000, "client whose task is killed; -1 = any"),
    INT(faults, kill_step, "-1", -1, BIG, "local step at which it is killed; -1 = any"),
    CHOICE(faults, kill_signal, "KILL", signals, "how the actor dies: a signal or an abnormal exit"),
    DBL(faults, kill_prob, "0", CLOSED, 0, 1, "probability that any task is killed"),
    INT(faults, stall_round, "-1", -1, BIG, "round in which an actor hangs past round_timeout; -1 = none"),
    INT(faults, stall_client, "-1", -1, 1000000, "client whose task stalls; -1 = any"),
    DBL(faults, stall_prob, "0", CLOSED, 0, 1, "probability that any task stalls"),
    CHOICE(faults, corrupt, "none", corruptions, "how an update is corrupted"),
    INT(faults, corrupt_round, "-1", -1, BIG, "round whose update is corrupted; -1 = any"),
    INT(faults, corrupt_client, "-1", -1, 1000000, "client whose update is corrupted; -1 = any"),
    DBL(faults, corrupt_prob, "0", CLOSED, 0, 1, "probability that an update is corrupted"),
    INT(faults, ckpt_fail_write, "0", 0, BIG, "fail the Nth checkpoint write with an I/O error; 0 = never"),
    INT(faults, kill_supervisor_round, "0", 0, BIG, "SIGKILL the supervisor itself in this round; 0 = never"),

    PERCLIENT(network, bandwidth_mbps, "100", CLOSED, 0.001, 1e6,
              "each client's link in Mbit/s, both directions: one value, one per client, or lognormal:MEDIAN,SIGMA, uniform:LO,HI, loguniform:LO,HI"),
    PERCLIENT(network, latency_ms, "10", CLOSED, 0, 1e5, "each client's one-way latency to the aggregator in ms (same forms)"),
    PERCLIENT(network, compute_scale, "1", CLOSED, 1e-6, 1e6,
              "each client's speed relative to the measured (or modelled) one: 0.5 = half as fast (same forms)"),
    DBL(network, server_bandwidth_mbps, "10000", CLOSED, 0, 1e9,
        "the aggregator's link in Mbit/s each way, shared by the round's transfers; 0 = unlimited"),
    ENUM(network, compute, "measured", computes,
         "client compute time: measured (task time / compute_scale) or model (FLOPs / rate: reproducible)"),
    DBL(network, tokens_per_s, "0", CLOSED, 0, 1e15, "compute = model: training tokens/s of a client at compute_scale 1; 0 = from device_tflops"),
    DBL(network, device_tflops, "0", CLOSED, 0, 1e9,
        "compute = model or plan: achieved training TFLOP/s of a client; 0 = 400 (cuda, auto) or 0.05 (cpu)"),
};
const int cfg_nkeys = sizeof cfg_keys / sizeof cfg_keys[0];

int cfg_find(const char *section, const char *key)
{
    for (int i = 0; i < cfg_nkeys; i++)
        if (strcmp(cfg_keys[i].section, section) == 0 && strcmp(cfg_keys[i].key, key) == 0)
            return i;
    return -1;
}

int cfg_find_section(const char *section)
{
    for (int i = 0; i < cfg_nsections; i++)
        if (strcmp(cfg_sections[i].name, section) == 0) return i;
    return -1;
}

/* Levenshtein distance, two rows; names here are short. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (lb + 1));
    }
    return prev[lb];
}

const char *cfg_suggest(const char *word, const void *names, size_t stride, int n)
{
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int i = 0; i < n; i++) {
        const char *name = *(const char *const *)((const char *)names + (size_t)i * stride);
        int d = edit_distance(word, name);
        if (d < best_d) { best_d = d; best = name; }
    }
    int limit = (int)strlen(word) / 3;
    if (limit < 2) limit = 2;
    return best_d <= limit ? best : NULL;
}
