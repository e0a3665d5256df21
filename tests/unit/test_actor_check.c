/* What a remote actor accepts from the supervisor (actors/actor_check.h):
 * a setup made from a real configuration passes, and each kind of value
 * the fuzzer found being used unchecked is refused with its key named — a
 * bool byte that is neither 0 nor 1, an enum out of its choices, a NaN or
 * out-of-range number, an unterminated string, a list (its pointers mean
 * nothing here) — as are tasks with kinds, slots or counts out of range. */
#include "harness.h"
#include <math.h>
#include <stddef.h>
#include "actors/actor_check.h"
#include "actors/client_state.h"

static actor_setup good(void)
{
    actor_setup s;
    memset(&s, 0, sizeof s);
    config_defaults(&s.cfg);
    s.model = (gpt2_config){ .n_layer = 1, .n_head = 2, .d_model = 32, .seq_len = 32, .vocab_size = 500, .padded_vocab = 512 };
    size_t np = gpt2_num_params(&s.model);
    s.plan = (link_plan){ .model_bytes = np * 4, .update_slots = 2, .update_bytes = np * 4, .state_slots = 6,
                          .state_bytes = client_state_bytes(CLIENT_STATE_ADAM, np) };
    snprintf(s.run_id, sizeof s.run_id, "test-1");
    s.slot = 1;
    return s;
}

static void refused(actor_setup *s, const char *what)
{
    char why[200] = "";
    cfg_wire_sanitize(&s->cfg);
    CHECK_MSG(actor_setup_check(s, why, sizeof why) < 0, "setup with %s refused", what);
    printf("   %s: %s\n", what, why);
}

static void test_setup(void)
{
    char why[200] = "";
    actor_setup s = good();
    cfg_wire_sanitize(&s.cfg);
    CHECK_MSG(actor_setup_check(&s, why, sizeof why) == 0, "a good setup passes (%s)", why);

    s = good();
    memset(&s.cfg.aggregator.requeue, 40, 1);
    refused(&s, "a bool byte of 40");
    s = good();
    memset(&s.cfg.network.present, 2, 1);
    refused(&s, "a presence flag of 2");
    s = good();
    s.cfg.aggregator.compression = 9;
    refused(&s, "an encoding of 9");
    s = good();
    s.cfg.run.backend = -1;
    refused(&s, "a backend of -1");
    s = good();
    s.cfg.clients.lr = NAN;
    refused(&s, "a NaN learning rate");
    s = good();
    s.cfg.clients.count = 0;
    refused(&s, "zero clients");
    s = good();
    memset(s.cfg.run.name, 'x', sizeof s.cfg.run.name);
    refused(&s, "an unterminated run name");
    s = good();
    s.cfg.model.d_model = 30;   /* not a multiple of n_head = 4 (the defaults'): a cross-key rule */
    s.cfg.model.n_head = 4;
    refused(&s, "d_model not a multiple of n_head");
    /* lists: whatever they held, the sanitized setup has none */
    s = good();
    s.cfg.data.sources.n = 3;
    s.cfg.data.sources.item = (const char *const *)(uintptr_t)0x1234;
    cfg_wire_sanitize(&s.cfg);
    CHECK(s.cfg.data.sources.n == 0 && s.cfg.data.sources.item == NULL);
    s = good();
    s.cfg.data.validation.n = 2;
    CHECK_MSG(actor_setup_check(&s, why, sizeof why) < 0, "an unsanitized list is refused");
}

static void test_task(void)
{
    actor_setup s = good();
    char why[200] = "";
    msg_task t;
    memset(&t, 0, sizeof t);
    t.kind = TASK_FEDERATED;
    t.client = 3;
    t.local_steps = 8;
    t.n_clients = s.cfg.clients.count;
    t.per_round = 2;
    t.keep_state = 1;
    t.state_flags = CLIENT_STATE_ADAM;
    t.state_in = 5;
    t.state_generation = 9;
    t.state_out = 4;
    CHECK_MSG(actor_task_check(&s, &t, why, sizeof why) == 0, "a good task passes (%s)", why);
    msg_task b;
    b = t; b.kind = 7;
    CHECK(actor_task_check(&s, &b, why, sizeof why) < 0);
    b = t; b.client = s.cfg.clients.count;
    CHECK(actor_task_check(&s, &b, why, sizeof why) < 0);
    b = t; b.state_in = 6;
    CHECK(actor_task_check(&s, &b, why, sizeof why) < 0);
    b = t; b.state_generation = 0; b.state_in = -5;   /* not read without a generation */
    CHECK(actor_task_check(&s, &b, why, sizeof why) == 0);
    b = t; b.state_out = -1;
    CHECK(actor_task_check(&s, &b, why, sizeof why) < 0);
    b = t; b.local_steps = -1;
    CHECK(actor_task_check(&s, &b, why, sizeof why) < 0);
    b = t; b.keep_state = 2;
    CHECK(actor_task_check(&s, &b, why, sizeof why) < 0);
    b = t; b.fault.kind = 9;
    CHECK(actor_task_check(&s, &b, why, sizeof why) < 0);
    b = t; b.fragment = 1;   /* fragments = 1 */
    CHECK(actor_task_check(&s, &b, why, sizeof why) < 0);
    b = t; b.kind = TASK_EVAL; b.client = -3;   /* an evaluation names no client */
    CHECK(actor_task_check(&s, &b, why, sizeof why) == 0);
}

int main(void)
{
    RUN(test_setup);
    RUN(test_task);
    return th_finish();
}
