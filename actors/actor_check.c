/* The remote actor's checks of the supervisor's setup and task messages
 * (see actors/actor_check.h). */
#include "actors/actor_check.h"
#include <stdio.h>
#include <string.h>
#include "proto/fault_task.h"

int actor_setup_check(const actor_setup *s, char *why, size_t n)
{
    const gpt2_config *m = &s->model;
    const link_plan *p = &s->plan;
    if (m->n_layer < 1 || m->n_layer > 1024 || m->n_head < 1 || m->d_model < 1 || m->d_model > 65536 ||
        m->seq_len < 1 || m->seq_len > (1 << 20) || m->vocab_size < 1 || m->padded_vocab < m->vocab_size ||
        m->padded_vocab > (1 << 24)) {
        snprintf(why, n, "model shape out of range");
        return -1;
    }
    size_t params = gpt2_num_params(m);
    /* the model as sent: fp32, or encoded (at least fp4's 5 bits a value;
     * client_sync_part checks the exact size of every part) */
    if (params > ((size_t)1 << 38) || p->model_bytes > params * sizeof(float) || p->model_bytes < params / 2) {
        snprintf(why, n, "model of %zu bytes for %zu parameters", p->model_bytes, params);
        return -1;
    }
    size_t parts = 0;   /* each part ≤ the model, so the sum cannot wrap */
    for (int f = 0; f < p->model_parts && p->model_parts <= LINK_MODEL_PARTS; f++)
        parts += p->model_part_bytes[f] <= p->model_bytes ? p->model_part_bytes[f] : p->model_bytes + 1;
    if (p->model_parts < 0 || p->model_parts > LINK_MODEL_PARTS || (p->model_parts > 1 && parts != p->model_bytes)) {
        snprintf(why, n, "model in %d parts for %zu bytes", p->model_parts, p->model_bytes);
        return -1;
    }
    size_t cap = 16 * params * sizeof(float) + ((size_t)1 << 20);
    if (p->update_slots < 1 || p->update_slots > 4096 || p->state_slots < 0 || p->state_slots > 1000000 ||
        p->update_bytes > cap || p->state_bytes > cap || s->slot < 0 || s->slot >= p->update_slots) {
        snprintf(why, n, "link plan out of range (%d update slots of %zu bytes, %d state slots of %zu, slot %d)",
                 p->update_slots, p->update_bytes, p->state_slots, p->state_bytes, s->slot);
        return -1;
    }
    if (!memchr(s->run_id, 0, sizeof s->run_id)) { snprintf(why, n, "run id not terminated"); return -1; }
    char bad[160];
    if (cfg_wire_check(&s->cfg, bad, sizeof bad) < 0) { snprintf(why, n, "configuration: %s", bad); return -1; }
    return 0;
}


int actor_task_check(const actor_setup *s, const msg_task *t, char *why, size_t n)
{
    const fault_task *f = &t->fault;
    if (t->kind != TASK_FEDERATED && t->kind != TASK_CENTRALIZED && t->kind != TASK_EVAL) {
        snprintf(why, n, "task kind %d", t->kind);
        return -1;
    }
    if (f->kind < FAULT_NONE || f->kind > FAULT_CORRUPT || f->signal < 0 || f->signal > 64 ||
        f->corruption < CORRUPT_NONE || f->corruption > CORRUPT_BITFLIP || f->step < -1) {
        snprintf(why, n, "fault kind %d signal %d corruption %d step %d", f->kind, f->signal, f->corruption, f->step);
        return -1;
    }
    if (t->kind == TASK_EVAL) return 0;   /* only the model generation and the round are used */
    const photon_config *c = &s->cfg;
    const link_plan *p = &s->plan;
    int fragments = c->aggregator.fragments > 1 ? c->aggregator.fragments : 1;
    if (t->local_steps < 0 || t->local_steps > (1 << 30) || t->global_step < 0 || t->client_pos < 0 || t->sync < 0) {
        snprintf(why, n, "counts out of range (local steps %d, global step %lld, client position %lld, sync %lld)",
                 t->local_steps, (long long)t->global_step, (long long)t->client_pos, (long long)t->sync);
        return -1;
    }
    if (t->client < 0 || t->client >= c->clients.count || t->n_clients < 0 || t->n_clients > c->clients.count ||
        t->per_round < 0 || t->per_round > (1 << 20) || t->fragment < 0 || t->fragment >= fragments) {
        snprintf(why, n, "client %d of %d (%d per round), fragment %d of %d", t->client, t->n_clients, t->per_round,
                 t->fragment, fragments);
        return -1;
    }
    if (t->keep_state != 0 && t->keep_state != 1) { snprintf(why, n, "keep_state %d", t->keep_state); return -1; }
    if (t->keep_state &&
        (t->state_flags < 0 || t->state_flags > 7 || t->state_out < 0 || t->state_out >= p->state_slots ||
         (t->state_generation != 0 && (t->state_in < 0 || t->state_in >= p->state_slots)))) {
        snprintf(why, n, "state slots %d -> %d of %d, flags %d", t->state_in, t->state_out, p->state_slots,
                 t->state_flags);
        return -1;
    }
    return 0;
}
