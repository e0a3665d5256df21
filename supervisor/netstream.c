/* The simulated streaming round (netmodel.h, netsim_stream): F phases of
 * netsim_round, each on its own fragment's transfers, chained by the
 * aggregator's outer steps and, with overlap, by each client's own
 * timeline (it computes on while the last fragment is in flight).  Pure
 * arithmetic like netsim.c; the runtime's clock (netclock.c) and `plan`
 * call it. */
#include "supervisor/netmodel.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io/common.h"

double netsim_stream(const netsim_stream_in *in, netsim_result *res, netsim_summary *sum, double *carry_out)
{
    int k = in->k, F = in->F;
    memset(sum, 0, sizeof *sum);
    netsim_client *c = xcalloc((size_t)(k > 0 ? k : 1), sizeof *c);
    netsim_result *pr = xcalloc((size_t)(k > 0 ? k : 1), sizeof *pr);
    double *ready = xcalloc((size_t)(k > 0 ? k : 1), sizeof(double));
    int *cont = xcalloc((size_t)(k > 0 ? k : 1), sizeof(int));
    double *down = xcalloc((size_t)(k > 0 ? k : 1), sizeof(double)), *comp = xcalloc((size_t)(k > 0 ? k : 1), sizeof(double));
    double *up = xcalloc((size_t)(k > 0 ? k : 1), sizeof(double));
    int *updates = xcalloc((size_t)(k > 0 ? k : 1), sizeof(int));
    for (int i = 0; i < k; i++) {
        cont[i] = !isnan(in->carry[i]);
        ready[i] = cont[i] ? in->carry[i] : 0;
        res[i] = (netsim_result){ .up_done = NAN, .upload = NAN };
    }
    double t = 0;   /* the phase's start: the last outer step's end */
    for (int j = 0; j < F; j++) {
        int prev = (j + F - 1) % F;
        for (int i = 0; i < k; i++) {
            int out = in->out && in->out[i];
            c[i] = (netsim_client){ .link = in->link[i], .add = in->add[(size_t)i * F + j] };
            c[i].down_bytes = out ? 0 : cont[i] ? in->part_down[prev] : in->whole_down;
            c[i].up_bytes = in->part_up[j];
            c[i].compute = out ? -1 : in->compute[(size_t)i * F + j];
            c[i].ready = cont[i] ? ready[i] - t : 0;
            c[i].overlap = in->overlap && cont[i];
        }
        netsim_summary ps;
        netsim_round(k, c, in->server_bw, 0, in->outer[j], pr, &ps);
        for (int i = 0; i < k; i++) {
            if (in->out && in->out[i]) { cont[i] = 0; continue; }
            if (c[i].compute < 0) { cont[i] = 0; continue; }   /* failed: nothing sent; the next phase afresh */
            down[i] += pr[i].down_done;
            comp[i] += c[i].compute;
            up[i] += pr[i].up_done - pr[i].compute_done;
            updates[i]++;
            ready[i] = t + pr[i].compute_done;
            res[i].up_done = t + pr[i].up_done;
            cont[i] = !(in->restart && in->restart[(size_t)i * F + j]);
        }
        if (j == F - 1) {
            sum->last_arrival = t + ps.last_arrival;
            sum->agg_done = t + ps.agg_done;
        }
        t += ps.seconds;
    }
    for (int i = 0; i < k; i++) {
        res[i].down_done = down[i];
        res[i].compute_done = comp[i];
        res[i].upload = updates[i] ? up[i] : NAN;
        if (down[i] > sum->download_max) sum->download_max = down[i];
        if (comp[i] > sum->compute_max) sum->compute_max = comp[i];
        if (up[i] > sum->upload_max) sum->upload_max = up[i];
        sum->on_time += !(in->out && in->out[i]) && updates[i] > 0;
        if (carry_out) carry_out[i] = cont[i] ? ready[i] - t : NAN;
    }
    sum->seconds = t;
    free(c); free(pr); free(ready); free(cont); free(down); free(comp); free(up); free(updates);
    return t;
}
