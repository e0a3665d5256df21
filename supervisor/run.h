/* The supervisor's run state, shared by its parts: supervisor.c (set-up,
 * event wiring, shutdown), round.c (the round state machine), eval.c,
 * checkpointer.c and progress.c.  Internal to supervisor/. */
#ifndef PHOTON_RUN_H
#define PHOTON_RUN_H
#include <stdint.h>
#include "io/config.h"
#include "io/link.h"
#include "io/proc.h"
#include "io/metrics.h"
#include "gpu/model.h"
#include "proto/protocol.h"
#include "supervisor/actor_pool.h"
#include "supervisor/aggregate.h"
#include "supervisor/outer_opt.h"
#include "supervisor/sampler.h"
#include "supervisor/faults.h"
#include "io/eval_windows.h"

typedef struct round_fsm round_fsm;
typedef struct stream stream;
typedef struct round_stats round_stats;
typedef struct netclock netclock;
typedef struct evaluator evaluator;
typedef struct progress progress;
typedef struct tblog tblog;

typedef enum { RUN_STARTING, RUN_ROUNDS, RUN_STOPPING, RUN_DONE } run_phase;

/* An evaluation waiting for an actor's figures (eval_dispatch.c). */
typedef struct {
    int active;
    int slot;                  /* the actor running it; -1 = none yet */
    int tries;                 /* actor attempts lost so far */
    uint64_t task_id;
    double t0;
} eval_job;

typedef struct run {
    const photon_config *cfg;
    char dir[1024];            /* run directory */
    char run_id[48];           /* names the link's shm segments */
    char ckpt_dir[1024];
    gpt2_config gc;
    size_t n;                  /* parameters */
    size_t model_bytes;
    int centralized;
    int n_clients, per_round, n_actors;

    float *theta;              /* the global model (supervisor's copy) */
    uint64_t model_gen;        /* generation of the published model (one more per publish) */
    uint64_t part_gen[LINK_MODEL_PARTS]; /* the generation each model part was last written with */
    uint64_t parts_dirty;      /* bit f: fragment f of theta changed since it was last published */

    proc_loop *loop;
    photon_link *link;
    actor_pool *pool;
    struct tcp_server *tcp;    /* link = tcp: the listener for remote actors */
    sampler *smp;
    agg *ag;
    outer_opt *outer;
    metrics *mx;
    evaluator *ev;             /* NULL: no evaluation */
    int eval_on_actor;         /* [eval] on, resolved */
    eval_job ej;
    int eval_initial;          /* the evaluation in flight is the one before round 1 */
    double round_secs;         /* the last committed round's wall time (progress line) */
    fault_plan *faults;
    progress *pg;
    round_fsm *rd;
    stream *st;                /* compression and streaming fragments (supervisor/stream.h) */
    tblog *tb;                 /* TensorBoard log, NULL if disabled (tb_log.h) */
    netclock *nc;              /* [network]: the simulated clock; NULL = none */

    /* Per-client run state: data position (micro-batches consumed), and
     * with kept optimizer state the link slot holding it and its generation. */
    int64_t *client_pos;
    int keep_state;
    int *client_state_slot;
    uint64_t *client_state_gen;
    int *actor_state_slot;     /* per actor: the slot it writes new state into */
    int64_t *client_sync;      /* per client: phase counter of its kept local model (streaming) */
    int64_t sync_counter;      /* phases run so far (streaming: the current phase's counter) */

    int64_t round;             /* rounds completed */
    int64_t first_round, first_tokens; /* where this process started (resume) */
    int attempt;
    int64_t global_step;
    int64_t tokens_seen;
    uint64_t task_counter;
    double t_start;            /* run start (before data preparation) */
    double t_rounds;           /* first round's start: rates and ETA count from here */
    double last_eval_loss, last_eval_ppl, first_eval_ppl;
    double last_train_loss;
    double bytes_moved, bytes_allreduce;
    double round_bytes, round_peak_bytes; /* the attempt just finished: bytes moved, one task's largest exchange */
    double round_update_bytes, update_bytes; /* of the bytes moved, the updates: this attempt, the run */
    double peak_bytes;         /* the largest one-task exchange of the run */
    int round_fragments_committed; /* streaming: phases of the attempt just finished that committed */
    int64_t tasks_done, tasks_failed, updates_rejected, ckpts, ckpt_writes;
    int64_t tasks_late;        /* [network]: failed by missing round_timeout on the simulated clock */
    int64_t tasks_discarded, tokens_discarded; /* accepted in attempts that failed min_clients */
    double time_train, time_overhead;  /* summed over rounds */

    run_phase phase;
    int waiting_actors;        /* link = tcp: round 1 waits for [aggregator] min_actors */
    int exit_code;
    char fail_reason[600];
    int interrupted;           /* SIGINT/SIGTERM arrived */
    int resumed;
    char last_ckpt[1024];
} run;

/* round.c */
round_fsm *round_new(run *r);
void round_free(round_fsm *rd);
/* Starts round r->round (attempt r->attempt): samples, queues, dispatches. */
void round_start(round_fsm *rd);
int round_active(const round_fsm *rd);
/* The current (or last) attempt's informational figures (round_stats.h). */
const round_stats *round_stats_of(const round_fsm *rd);
void round_on_idle(round_fsm *rd, int slot);
void round_on_result(round_fsm *rd, int slot, const msg_result *res);
void round_on_task_lost(round_fsm *rd, int slot, const msg_task *t, const char *cause);

/* supervisor.c: the round's attempt r->attempt finished (committed or not);
 * decides what next.  tasks/tokens_discarded: the accepted work a failed
 * attempt throws away (0 when committed). */
void run_round_done(run *r, int committed, const agg_summary *s, int64_t tasks_discarded,
                    int64_t tokens_discarded, double round_seconds, double train_loss,
                    double overhead_seconds);
/* Fails the run with a reason (stops the actors, exit status 1). */
void run_fail(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Publishes r->theta as the next model generation: writes the parts of
 * the fragments that changed (parts_dirty), each once, and nothing else. */
int run_publish(run *r, photon_err *err);
/* The model a task reads: the generation and every part's. */
void run_task_model(const run *r, msg_task *t);

/* eval.c: the validation windows and the eval event (io/eval_windows.h).
 * evaluator_new: -1 with err (evaluation disabled) if there is no data. */
evaluator *evaluator_new(const run *r, photon_err *err);
void evaluator_free(evaluator *e);
/* Scores params in the supervisor's own CPU model instance. */
int evaluator_score(evaluator *e, const float *params, eval_sums *out, photon_err *err);
/* Checks an actor's figures against the plan (fingerprint, window counts,
 * finite and plausible sums); -1 with err saying why they are refused. */
int evaluator_accept(const evaluator *e, const msg_eval_result *m, eval_sums *out, photon_err *err);
/* Writes the eval event (on = "actor" or "supervisor") and keeps the figures. */
void evaluator_record(run *r, const eval_sums *s, const char *on, double seconds);
/* The last evaluation's per-source figures into summary.json. */
void evaluator_summary(const evaluator *e, summary *s);
/* A resumed run's last evaluation before its checkpoint (JSON objects by
 * source, either NULL), for summary.json until it evaluates again. */
void evaluator_restore(evaluator *e, const char *ppl_by_source, const char *loss_by_source);

/* eval_dispatch.c: evaluates the published model r->theta, in the
 * supervisor or as a task on an actor ([eval] on), then calls
 * run_eval_done(r) (at once when nothing is evaluated). */
int eval_runs_on_actor(const photon_config *cfg);
void eval_start(run *r);
int eval_pending(const run *r);
void eval_on_idle(run *r, int slot);
void eval_on_result(run *r, int slot, const msg_eval_result *m);
void eval_on_task_lost(run *r, int slot, const msg_task *t, const char *cause);
/* supervisor.c: what follows an evaluation (the first round, or the
 * checkpoint and next round after a committed one). */
void run_eval_done(run *r);

/* checkpointer.c: the run state after round r->round (io/runstate.h),
 * keeping the last checkpoint.keep; the path written goes to path. */
int checkpoint_write(run *r, int inject_failure, char *path, size_t n, photon_err *err);
/* Loads the newest valid checkpoint into r (model, outer state, client
 * positions and kept states into the link, counters): 0 loaded, 1 none
 * there, -1 with err.  *metrics_off gets the metrics.jsonl length to cut
 * back to. */
int checkpoint_resume(run *r, int64_t *metrics_off, char *path, size_t n, photon_err *err);

/* progress.c: live line on a terminal, log lines otherwise. */
progress *progress_new(int total_rounds);
void progress_free(progress *p);
void progress_round(progress *p, const run *r, double round_seconds, double tok_per_s);
void progress_clear(progress *p);   /* before other output on the terminal */
#endif
