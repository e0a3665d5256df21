/* The experiment configuration (DESIGN §4).  One schema table in
 * io/config_schema.c declares every key (section, key, type, default,
 * range or allowed values, help) and where it lives in struct photon_config;
 * parsing, validation, defaults, --set overrides, include presets, the
 * resolved dump and the generated key reference all derive from it.
 * Adding a key = one field here + one row in the table. */
#ifndef PHOTON_CONFIG_H
#define PHOTON_CONFIG_H
#include <stdint.h>
#include <stdbool.h>
#include "io/common.h"

#define CFG_STR 256     /* max length of a string value (and of each list item) */
#define CFG_LIST_MAX 100000  /* items of one list value: a bound on hostile input, not a design limit */
#define CFG_PERCLIENT_MAX 1024  /* max values of a per-client list ([network]) */

enum cfg_backend { BACKEND_AUTO, BACKEND_CPU, BACKEND_CUDA };
enum cfg_mode { MODE_FEDERATED, MODE_CENTRALIZED };
enum cfg_partition { PART_IID, PART_BY_SOURCE, PART_DIRICHLET, PART_BY_FIELD };
enum cfg_schedule { SCHED_COSINE, SCHED_CONSTANT, SCHED_LINEAR };
enum cfg_optstate { OPTSTATE_RESET, OPTSTATE_KEEP };
enum cfg_strategy { STRAT_FEDAVG, STRAT_FEDMOM, STRAT_NESTEROV };
enum cfg_link { LINK_SHM, LINK_TCP };
enum cfg_precision { PREC_FP32, PREC_BF16 };
enum cfg_eval_on { EVAL_ON_AUTO, EVAL_ON_SUPERVISOR, EVAL_ON_ACTOR };
/* [centralized] schedule: CSCHED_INHERIT, else enum cfg_schedule + 1. */
enum { CSCHED_INHERIT = 0 };
enum cfg_compute { COMPUTE_MEASURED, COMPUTE_MODEL };
/* Forms of a per-client value: one for every client, one per client, or a
 * distribution sampled per client (docs/NETWORK.md). */
enum cfg_dist { DIST_CONST, DIST_LIST, DIST_LOGNORMAL, DIST_UNIFORM, DIST_LOGUNIFORM };

/* A list value: comma-separated in the INI file, any number of items.  The
 * items are interned for the life of the process (a configuration is loaded
 * a handful of times per process), so a photon_config stays a plain value:
 * copies share the items and nothing needs freeing. */
typedef struct { int n; const char *const *item; } cfg_list;
/* Sets l to copies of items[0..n). */
void cfg_list_set(cfg_list *l, int n, const char *const *items);

/* A per-client number: kind DIST_CONST (a), DIST_LIST (v[0..n), one per
 * client), or a distribution with parameters a, b (lognormal: median a,
 * sigma b; uniform and loguniform: a..b), sampled per client by
 * supervisor/netmodel.h. */
typedef struct { int kind; int n; double a, b; double v[CFG_PERCLIENT_MAX]; } cfg_perclient;

struct photon_config;
/* A configuration that arrived as bytes from another process (an actor's
 * setup message): cfg_wire_sanitize empties its lists (their pointers mean
 * nothing in this process; actors never read lists), then cfg_wire_check
 * says whether every value is one the schema allows (bools 0 or 1, enums
 * and choices known, numbers in range and not NaN, strings terminated,
 * per-client values well formed) and the cross-key rules hold: 0, or -1
 * with why naming the first bad key. */
void cfg_wire_sanitize(struct photon_config *c);
int cfg_wire_check(const struct photon_config *c, char *why, size_t n);

typedef struct photon_config {
    char source_path[CFG_STR];   /* the experiment file, as given */
    struct {
        char name[CFG_STR];
        char out_dir[CFG_STR];   /* run directory; "" = runs/<name> */
        uint64_t seed;
        int backend;             /* enum cfg_backend */
        int rounds;
        int mode;                /* enum cfg_mode */
        int threads;             /* CPU threads per actor, 0 = all cores / actors */
        int precision;           /* enum cfg_precision (cuda only) */
        char init_from[CFG_STR]; /* checkpoint or HF directory to start from; "" = random init */
    } run;
    struct {
        int n_layer, n_head, d_model, seq_len;
        int vocab_size;          /* 0 = take it from the tokenizer */
        int pad_vocab;           /* pad V up to a multiple of this (1 = no padding) */
        double init_std;
    } model;
    struct {
        cfg_list sources;        /* "name=path" or "path" (name = file stem); paths may be globs */
        char tokenizer[CFG_STR]; /* tokenizer directory, or "train" */
        int tokenizer_vocab;     /* size when tokenizer = train */
        int partition;           /* enum cfg_partition */
        cfg_list assign;         /* by_source: "name=client,client,..." e.g. "wiki=0-1" */
        double alpha;            /* dirichlet concentration */
        cfg_list validation;     /* validation sources (paths) */
        char prepared_dir[CFG_STR]; /* "" = <out_dir>/data */
        int64_t max_docs;        /* 0 = all; caps documents read per source */
        char text_key[CFG_STR];  /* JSON member (dotted path) holding the text */
        char source_field[CFG_STR]; /* JSON member naming each document's source; "" = none */
        int max_doc_mb;          /* longest document accepted */
    } data;
    struct {
        int count;               /* N virtual clients */
        int per_round;           /* K sampled per round */
        int actors;              /* P actor processes */
        int local_steps;         /* T_local */
        int batch_size;
        int grad_accum;
        double lr, min_lr_ratio;
        int warmup;
        int schedule;            /* enum cfg_schedule */
        double weight_decay, grad_clip, beta1, beta2, eps;
        int optimizer_state;     /* enum cfg_optstate */
    } clients;
    struct {                     /* mode = centralized; each default inherits [clients] */
        int batch_size;          /* global batch (sequences per step); 0 = clients.batch_size x per_round */
        int grad_accum;          /* micro-batches per step; 0 = global batch / the clients' micro-batch */
        double lr;               /* 0 = clients.lr */
        double min_lr_ratio;     /* -1 = clients.min_lr_ratio */
        int warmup;              /* -1 = clients.warmup */
        int schedule;            /* CSCHED_INHERIT or enum cfg_schedule + 1 */
    } centralized;
    struct {
        int strategy;            /* enum cfg_strategy */
        double server_lr, momentum;
        int min_clients;
        double round_timeout;    /* seconds; 0 = none */
        int link;                /* enum cfg_link */
        char listen[CFG_STR];    /* host:port for tcp */
        char key_file[CFG_STR];
        char tls_ca[CFG_STR], tls_cert[CFG_STR], tls_key[CFG_STR];  /* link = tcp with certificates */
        double connect_timeout; /* link = tcp: seconds with no actor connected; 0 = forever */
        int min_actors;          /* link = tcp: rounds start once this many actors are connected */
        int max_retries;         /* times a failed round is retried */
        bool requeue;            /* re-run a failed client's task within the round */
        double reject_norm;      /* reject updates with norm > this x median; 0 = off */
        int compression;         /* enum quant_kind (gpu/quant.h): the update as sent */
        int broadcast_compression; /* enum quant_kind: the model as sent to clients */
        bool error_feedback;     /* clients keep their quantisation residual */
        int fragments;           /* F: streaming synchronisation of 1/F of the model at a time */
        bool overlap;            /* clients train on while a fragment is in flight */
        double overlap_mix;      /* alpha: local <- alpha*local + (1-alpha)*global on arrival */
    } aggregator;
    struct {
        int restarts;            /* at most this many restarts ... */
        double window;           /* ... within this many seconds, per actor */
        int run_restarts;        /* and for the whole run */
        double backoff;          /* first restart delay, seconds (doubles) */
        double grace;            /* SIGTERM -> SIGKILL grace, seconds */
    } supervision;
    struct {
        int every;               /* rounds; 0 = only at the end */
        int keep;
        char dir[CFG_STR];       /* "" = <out_dir>/checkpoints */
    } checkpoint;
    struct {
        int every;
        int batches;
        int batch_size;          /* 0 = the training micro-batch */
        int64_t tokens;          /* tokens scored per evaluation; 0 = batches x batch_size x seq_len */
        int on;                  /* enum cfg_eval_on: where evaluation runs */
    } eval;
    struct {
        uint64_t seed;           /* 0 = run.seed */
        int kill_round, kill_client, kill_step; /* -1 = any */
        char kill_signal[CFG_STR];              /* KILL, SEGV, exit */
        double kill_prob;        /* per task */
        int stall_round, stall_client;
        double stall_prob;
        char corrupt[CFG_STR];   /* none, nan, scale, bitflip */
        int corrupt_round, corrupt_client;
        double corrupt_prob;
        int ckpt_fail_write;     /* fail the Nth checkpoint write; 0 = never */
        int kill_supervisor_round; /* 0 = never */
    } faults;
    struct {                     /* optional section: no [network], no model */
        bool present;            /* the section appears (file or --set) */
        cfg_perclient bandwidth_mbps, latency_ms, compute_scale;
        double server_bandwidth_mbps; /* 0 = unlimited */
        int compute;             /* enum cfg_compute */
        double tokens_per_s;     /* compute = model: rate per client; 0 = from device_tflops */
        double device_tflops;    /* achieved training TFLOP/s per client; 0 = by backend */
    } network;
} photon_config;

/* Sets every key to its schema default. */
void config_defaults(photon_config *c);
/* Loads an experiment file (with includes) on top of the defaults, then
 * applies "section.key=value" overrides in order, then validates.
 * Returns 0, or -1 with err = "file:line: message". */
int config_load(photon_config *c, const char *path, const char *const *overrides,
                int n_overrides, photon_err *err);
/* The same for commands that need only the model and the clients (plan):
 * [data] may name no sources and input paths need not exist. */
int config_load_model_only(photon_config *c, const char *path, const char *const *overrides,
                           int n_overrides, photon_err *err);
/* Cross-key checks (per_round <= count, d_model % n_head == 0, ...). */
int config_validate(const photon_config *c, photon_err *err);
/* Writes the fully resolved configuration as an INI file (every key). */
void config_dump(const photon_config *c, FILE *f);
/* Writes the key reference (Markdown) generated from the schema. */
void config_reference(FILE *f);
/* Resolved run directory (run.out_dir or runs/<name>). */
void config_run_dir(const photon_config *c, char *out, size_t n);
#endif
