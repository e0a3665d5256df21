/* Per-round informational statistics (see supervisor/round_stats.h). */
#include "supervisor/round_stats.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct round_stats {
    int n_actors;
    int n;                          /* results added */
    double lr_first, lr_last;
    double gn_sum, gn_max;
    int gn_n;
    double un_sum, un_min, un_max;
    int un_n;
    double *tokens, *seconds;       /* per actor slot */
};

round_stats *round_stats_new(int n_actors)
{
    round_stats *s = xcalloc(1, sizeof *s);
    s->n_actors = n_actors > 0 ? n_actors : 1;
    s->tokens = xcalloc((size_t)s->n_actors, sizeof(double));
    s->seconds = xcalloc((size_t)s->n_actors, sizeof(double));
    round_stats_reset(s);
    return s;
}

void round_stats_free(round_stats *s)
{
    if (!s) return;
    free(s->tokens);
    free(s->seconds);
    free(s);
}

void round_stats_reset(round_stats *s)
{
    double *t = s->tokens, *sec = s->seconds;
    int na = s->n_actors;
    memset(s, 0, sizeof *s);
    s->n_actors = na;
    s->tokens = t;
    s->seconds = sec;
    memset(t, 0, (size_t)na * sizeof(double));
    memset(sec, 0, (size_t)na * sizeof(double));
    s->gn_max = s->un_max = -INFINITY;
    s->un_min = INFINITY;
}

void round_stats_add(round_stats *s, int slot, const msg_result *res)
{
    if (s->n == 0) s->lr_first = res->lr_first;
    s->lr_last = res->lr_last;
    s->n++;
    /* Figures the actor reports about itself are only averaged when finite. */
    if (isfinite(res->grad_norm)) { s->gn_sum += res->grad_norm; s->gn_n++; }
    if (isfinite(res->grad_norm_max) && res->grad_norm_max > s->gn_max) s->gn_max = res->grad_norm_max;
    if (isfinite(res->update_norm)) {
        s->un_sum += res->update_norm;
        s->un_n++;
        if (res->update_norm < s->un_min) s->un_min = res->update_norm;
        if (res->update_norm > s->un_max) s->un_max = res->update_norm;
    }
    if (slot >= 0 && slot < s->n_actors && res->tokens > 0 && isfinite(res->seconds) && res->seconds > 0) {
        s->tokens[slot] += (double)res->tokens;
        s->seconds[slot] += res->seconds;
    }
}

static double finite_or_nan(double v) { return isfinite(v) ? v : NAN; }

void round_stats_write(const round_stats *s, metrics *mx)
{
    if (s->n == 0) return;
    metrics_num(mx, "lr_first", s->lr_first);
    metrics_num(mx, "lr_last", s->lr_last);
    metrics_num(mx, "grad_norm_mean", s->gn_n ? s->gn_sum / s->gn_n : NAN);
    metrics_num(mx, "grad_norm_max", finite_or_nan(s->gn_max));
    metrics_num(mx, "update_norm_mean", s->un_n ? s->un_sum / s->un_n : NAN);
    metrics_num(mx, "update_norm_min", finite_or_nan(s->un_min));
    metrics_num(mx, "update_norm_max", finite_or_nan(s->un_max));
    size_t cap = (size_t)s->n_actors * 32 + 8, len = 0;
    char *buf = xmalloc(cap);
    buf[len++] = '[';
    for (int a = 0; a < s->n_actors; a++) {
        char num[40];
        if (s->seconds[a] > 0) json_format_number(num, sizeof num, s->tokens[a] / s->seconds[a]);
        else snprintf(num, sizeof num, "null");
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", a ? "," : "", num);
    }
    snprintf(buf + len, cap - len, "]");
    metrics_raw(mx, "actor_tokens_per_s", buf);
    free(buf);
}

round_stats_brief round_stats_get(const round_stats *s)
{
    round_stats_brief b = { NAN, NAN, NAN, NAN };
    if (s->n == 0) return b;
    b.lr = s->lr_last;
    b.grad_norm = s->gn_n ? s->gn_sum / s->gn_n : NAN;
    b.update_norm = s->un_n ? s->un_sum / s->un_n : NAN;
    /* The actors work in parallel: the round's rate is the sum of theirs. */
    double rate = 0;
    int any = 0;
    for (int a = 0; a < s->n_actors; a++)
        if (s->seconds[a] > 0) { rate += s->tokens[a] / s->seconds[a]; any = 1; }
    b.tokens_per_s = any ? rate : NAN;
    return b;
}
