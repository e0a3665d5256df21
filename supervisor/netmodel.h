/* The network and compute model of [network] (DESIGN §8, docs/NETWORK.md):
 * what each client's link and speed are, how many bytes a round's
 * transfers put on the wire, how long a client's task computes, and the
 * simulated round: every sampled client downloads the model, computes and
 * uploads its update over its own link, with the aggregator's link shared
 * among the transfers active at each moment (max-min fair, each flow
 * capped by its client's link); and the same work as per-step ring
 * all-reduce data parallelism over the same links.
 *
 * Everything here is a pure function of its arguments (the configuration,
 * a client id, measured or modelled figures), so the runtime's clock
 * (supervisor/netclock.h) and `photon-sim plan` give the same answer for
 * the same figures, and a per-client value drawn from a distribution is the
 * same in every run and resume with the same [run] seed. */
#ifndef PHOTON_NETMODEL_H
#define PHOTON_NETMODEL_H
#include <stddef.h>
#include "io/config.h"
#include "gpu/model.h"

/* Bytes on the wire per payload byte: TCP/IPv4 with timestamps carries 1448
 * payload bytes in a 1500-byte packet; link rates count whole IP packets. */
#define NET_WIRE_OVERHEAD (1500.0 / 1448.0)
/* Per-backend default of [network] device_tflops (achieved training TFLOP/s
 * per client): cuda (and auto) about 40% of an H100's 989 dense bf16 TFLOP/s;
 * cpu what the CPU backend reaches on a 2-core machine (photon-sim bench). */
#define NET_DEFAULT_TFLOPS_CUDA 400.0
#define NET_DEFAULT_TFLOPS_CPU 0.05
/* Aggregator memory bandwidth assumed when compute = model (and by plan):
 * adding an update reads it and the sum and writes the sum (3 model sizes);
 * the outer step streams about 5 model sizes. */
#define NET_SERVER_BYTES_PER_S 20e9

/* One client as the model sees it. */
typedef struct {
    double bw;       /* link rate, bytes/s, each direction */
    double lat;      /* one-way latency to the aggregator, s */
    double scale;    /* speed relative to the measured / modelled one */
} net_client;

/* The value of a per-client key for client id: the constant, the list's
 * entry, or a draw from the distribution that depends only on (seed, tag,
 * client) (tag: which key), clamped to [lo, hi]. */
double net_perclient(const cfg_perclient *p, uint64_t seed, uint32_t tag, int client, double lo, double hi);
void net_client_of(const photon_config *c, int client, net_client *out);

/* Payload bytes of a round's transfers: the model as sent to a client, one
 * client's update as sent back, and the per-step all-reduce payload of one
 * worker (its gradient).  The one place that knows what the link sends;
 * update compression plugs in here. */
typedef struct { double download, upload, allreduce; } net_bytes;
void net_transfer_bytes(const photon_config *c, size_t n_params, net_bytes *b);

/* compute = model: training tokens/s of one client at compute_scale 1
 * ([network] tokens_per_s, else device_tflops (or the backend's default)
 * over gpt2_train_flops per token).  source (may be NULL) gets where the
 * figure came from, for plan's output. */
double net_tokens_per_s(const photon_config *c, const gpt2_config *g, const char **source);
/* Tokens of one client's task (local_steps x batch_size x seq_len). */
double net_task_tokens(const photon_config *c);

/* ---- the simulated round ---------------------------------------------- */

typedef struct netsim_client {
    net_client link;
    double down_bytes, up_bytes;   /* payload */
    double compute;                /* seconds; < 0: the task failed (no upload) */
    double add;                    /* aggregator seconds to add its update */
    /* Streaming phases (netsim_stream); 0 in a plain round: */
    double ready;                  /* when it can start computing (its last task's end), from the round's start */
    int overlap;                   /* 1: it computes while the download is in flight; its task ends no earlier
                                    * than the download's arrival (the merge); 0: computing waits for it */
} netsim_client;

typedef struct netsim_result {
    double down_done, compute_done, up_done;   /* from the round's start, s */
    double upload;                             /* seconds its upload took from its task's end (NaN: none) */
    int late;                                  /* up_done > timeout */
} netsim_result;

typedef struct netsim_summary {
    double seconds;          /* the whole round, outer step included */
    double last_arrival;     /* last on-time update at the aggregator */
    double agg_done;         /* last add done */
    int late, on_time;
    /* breakdown over clients: max of each phase's duration */
    double download_max, compute_max, upload_max;
} netsim_summary;

/* Max-min fair sharing of one link of capacity cap bytes/s (0 = unlimited)
 * among n flows: flow i enters at enter[i] with bytes[i] to carry, at most
 * rate[i] bytes/s; leave[i] gets when its last byte has passed. */
void netsim_share(double cap, int n, const double *enter, const double *bytes, const double *rate, double *leave);

/* One federated round of k clients: downloads from the aggregator (its
 * egress shared), compute, uploads (its ingress shared; links are full
 * duplex), a client whose upload ends after timeout (> 0) is late; the
 * aggregator adds on-time updates in arrival order, waits until timeout if
 * any is late, then runs the outer step (outer seconds).  out: k results
 * (compute_done: when the task ends and its upload starts). */
void netsim_round(int k, const netsim_client *c, double server_bw, double timeout, double outer,
                  netsim_result *out, netsim_summary *sum);

/* A streaming round (fragments > 1 or overlap; docs/NETWORK.md,
 * "Streaming rounds"): F phases, phase j a netsim_round of its own
 * transfers that starts when phase j − 1's outer step is done.  In phase j
 * client i downloads the fragment synchronised last phase (f = j − 1 mod
 * F; the previous round's last for j = 0) when it continues from its local
 * model, else the whole model; computes phase j's steps; uploads fragment
 * j's update.  Without overlap it computes once the download is there.
 * With overlap a continuing client computes on from the end of its last
 * task while the fragment is in flight, and its task ends when both its
 * compute is done and the fragment has arrived (it merges it then); so
 * across phases and rounds communication hides behind compute. */
typedef struct {
    int k, F, overlap;
    double server_bw;              /* bytes/s; 0 = unlimited */
    const net_client *link;        /* [k] */
    const double *part_down;       /* [F] bytes of fragment f as sent to a client */
    const double *part_up;         /* [F] bytes of fragment f's update as sent back */
    double whole_down;             /* the whole model as sent (a client that does not continue) */
    const double *compute;         /* [k*F] seconds of client i's phase j; < 0: failed (no upload) */
    const double *add;             /* [k*F] aggregator seconds to add it */
    const double *outer;           /* [F] the outer step on fragment j */
    const double *carry;           /* [k] continuing from the last round: when its last task ended, from
                                    * this round's start (≤ 0); NaN: it starts afresh */
    const int *out;                /* [k] left out of every phase (late; NULL: none) */
    const int *restart;            /* [k*F] its phase-j update was rejected: phase j + 1 starts afresh (NULL) */
} netsim_stream_in;
/* Returns the round's seconds (the last outer step's end).  res[i]:
 * down_done = its downloads' arrivals after their phase's start, summed,
 * compute_done = its compute summed, up_done = when its last update
 * reached the aggregator (NaN if none), upload = its uploads' durations
 * summed; late is left 0.  sum:
 * last_arrival and agg_done of the last phase, on_time (clients not left
 * out that sent an update), the per-client maxima of the sums (upload: its
 * uploads' durations from their task's end).  carry_out[i] (may be NULL):
 * for a client that continues into the next round, when its last task
 * ended from the round's end (≤ 0), else NaN. */
double netsim_stream(const netsim_stream_in *in, netsim_result *res, netsim_summary *sum, double *carry_out);

/* `steps` steps of data parallelism among n workers with ring all-reduce
 * (the ring in the given order): worker i computes compute[i] seconds,
 * then the ring all-reduces payload bytes in 2(n-1) phases of payload / n;
 * a worker forwards each phase's chunk once it has received the previous
 * one, and the hop i -> i+1 carries a chunk in (payload / n) / min(bw_i,
 * bw_i+1) on the wire and delivers it lat_i + lat_i+1 later.  Returns the
 * time until every worker has finished the last step; period (may be NULL)
 * gets the steady-state time of one step. */
double netsim_allreduce(int n, const net_client *w, const double *compute, double payload, int steps, double *period);
#endif
