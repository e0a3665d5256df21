/* Run-state checkpoints: a full round trip of every field (bitwise),
 * retention of the last `keep`, fallback past a corrupt newest checkpoint,
 * an injected write failure leaving nothing behind, stale temp cleanup,
 * mismatch errors, and SIGKILL during checkpoint writes: whatever moment the
 * writer dies, resume finds a complete checkpoint equal to what was saved. */
#include "harness.h"
#include "io/common.h"
#include "io/runstate.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NCL 3

static gpt2_config CFG = { .n_layer = 1, .n_head = 2, .d_model = 8, .seq_len = 4, .vocab_size = 10, .padded_vocab = 16 };

/* Saved state is a deterministic function of the round, so a test can say
 * what any checkpoint must contain. */
typedef struct {
    size_t n;
    float *model, *mom, *adam_m, *adam_v;
    int64_t pos[NCL][2];
    uint64_t rng[NCL];
    /* what client_put received */
    int64_t got_pos[NCL][2];
    uint64_t got_rng[NCL];
    int got_adam[NCL];
    int64_t got_step[NCL];
    float *got_m;
} fixture;

static void fill(fixture *f, int64_t round)
{
    photon_rng g;
    rng_derive(&g, 1, (uint64_t)round, 0, 0);
    for (size_t i = 0; i < f->n; i++) {
        f->model[i] = rng_normal(&g);
        f->mom[i] = rng_normal(&g) * 1e-3f;
        f->adam_m[i] = rng_normal(&g);
        f->adam_v[i] = (float)rng_uniform(&g);
    }
    for (int c = 0; c < NCL; c++) {
        f->pos[c][0] = round * 100 + c;
        f->pos[c][1] = c;
        f->rng[c] = rng_u64(&g);
    }
}

static int get_cb(void *ud, int client, runstate_client *c, photon_err *err)
{
    (void)err;
    fixture *f = ud;
    c->data_pos = f->pos[client];
    c->rng = &f->rng[client];
    c->has_adam = client == 1;          /* only client 1 kept optimizer state */
    c->adam_m = f->adam_m;
    c->adam_v = f->adam_v;
    c->adam_step = 77;
    return 0;
}

static int put_cb(void *ud, int client, const runstate_client *c, photon_err *err)
{
    (void)err;
    fixture *f = ud;
    memcpy(f->got_pos[client], c->data_pos, sizeof f->got_pos[client]);
    f->got_rng[client] = c->rng[0];
    f->got_adam[client] = c->has_adam;
    f->got_step[client] = c->has_adam ? c->adam_step : -1;
    if (c->has_adam) memcpy(f->got_m, c->adam_m, f->n * sizeof(float));
    return 0;
}

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->n = gpt2_num_params(&CFG);
    f->model = malloc(f->n * 4);
    f->mom = malloc(f->n * 4);
    f->adam_m = malloc(f->n * 4);
    f->adam_v = malloc(f->n * 4);
    f->got_m = malloc(f->n * 4);
}

static void fixture_free(fixture *f)
{
    free(f->model); free(f->mom); free(f->adam_m); free(f->adam_v); free(f->got_m);
}

static runstate make_rs(fixture *f, int64_t round, float *model, float *mom)
{
    runstate rs = {
        .round = round, .global_step = round * 16, .tokens_seen = round * 4096, .seed = 42,
        .config = "[run]\nseed = 42\n", .model_cfg = CFG, .model = model, .outer_m = mom,
        .outer_steps = round, .metrics_offset = round * 1000 + 7, .agg_reference = 1.0 / 3 + (double)round,
        .sampler = {42, NCL, 2}, .n_clients = NCL, .pos_words = 2, .rng_words = 1,
        .client_get = get_cb, .client_put = put_cb, .ud = f,
    };
    return rs;
}

static int save_round(const char *dir, fixture *f, int64_t round, int keep, photon_err *e)
{
    fill(f, round);
    runstate rs = make_rs(f, round, f->model, f->mom);
    return runstate_save(dir, &rs, keep, false, NULL, 0, e);
}

/* Loads the newest and checks every field against fill(expect_round). */
static void check_resume(const char *dir, fixture *f, int64_t expect_round)
{
    photon_err e;
    float *model = malloc(f->n * 4), *mom = malloc(f->n * 4);
    runstate rs = make_rs(f, 0, model, mom);
    rs.config = NULL;
    char path[1024];
    int rc = runstate_resume(dir, &rs, path, sizeof path, &e);
    CHECK_MSG(rc == 0, "resume: %s", rc ? e.msg : "");
    if (rc == 0) {
        fill(f, expect_round);
        CHECK_EQ_INT(rs.round, expect_round);
        CHECK_EQ_INT(rs.global_step, expect_round * 16);
        CHECK_EQ_INT(rs.tokens_seen, expect_round * 4096);
        CHECK(rs.seed == 42);
        CHECK_STR(rs.config, "[run]\nseed = 42\n");
        CHECK(memcmp(model, f->model, f->n * 4) == 0);
        CHECK(memcmp(mom, f->mom, f->n * 4) == 0);
        CHECK_EQ_INT(rs.outer_steps, expect_round);
        CHECK_EQ_INT(rs.metrics_offset, expect_round * 1000 + 7);
        CHECK(rs.agg_reference == 1.0 / 3 + (double)expect_round);
        for (int c = 0; c < NCL; c++) {
            CHECK(f->got_pos[c][0] == f->pos[c][0] && f->got_pos[c][1] == f->pos[c][1]);
            CHECK(f->got_rng[c] == f->rng[c]);
            CHECK_EQ_INT(f->got_adam[c], c == 1);
        }
        CHECK_EQ_INT(f->got_step[1], 77);
        CHECK(memcmp(f->got_m, f->adam_m, f->n * 4) == 0);
        char want[64];
        snprintf(want, sizeof want, "ckpt-%08lld.h5", (long long)expect_round);
        CHECK_CONTAINS(path, want);
    }
    free((char *)rs.config);
    free(model);
    free(mom);
}

static void test_roundtrip_and_keep(void)
{
    photon_err e;
    fixture f;
    fixture_init(&f);
    char dir[512];
    path_join(dir, sizeof dir, th_tmpdir(), "ckpt");
    float *model = malloc(f.n * 4);
    runstate rs0 = make_rs(&f, 0, model, NULL);
    CHECK_EQ_INT(runstate_resume(dir, &rs0, NULL, 0, &e), 1);   /* nothing yet */
    free(model);
    for (int r = 1; r <= 4; r++) CHECK(save_round(dir, &f, r, 2, &e) == 0);
    int64_t rounds[8];
    CHECK_EQ_INT(runstate_list(dir, rounds, 8), 2);
    CHECK(rounds[0] == 4 && rounds[1] == 3);
    check_resume(dir, &f, 4);
    fixture_free(&f);
}

/* Flips one byte inside the stored model data of ckpt-<round>. */
static void corrupt(const char *dir, fixture *f, int64_t round)
{
    fill(f, round);
    char p[1024], name[64];
    snprintf(name, sizeof name, "ckpt-%08lld.h5", (long long)round);
    path_join(p, sizeof p, dir, name);
    size_t n;
    photon_err e;
    char *buf = file_read_all(p, &n, &e);
    const char *needle = (const char *)f->model;      /* wte's first values */
    char *hit = memmem(buf, n, needle, 16);
    CHECK(hit != NULL);
    if (hit) hit[5] ^= 0x10;
    FILE *fp = fopen(p, "wb");
    fwrite(buf, 1, n, fp);
    fclose(fp);
    free(buf);
}

static void test_fallback(void)
{
    photon_err e;
    fixture f;
    fixture_init(&f);
    char dir[512];
    path_join(dir, sizeof dir, th_tmpdir(), "ckpt");
    for (int r = 1; r <= 3; r++) save_round(dir, &f, r, 0, &e);
    corrupt(dir, &f, 3);
    check_resume(dir, &f, 2);               /* newest fails its checksum */
    corrupt(dir, &f, 2);
    corrupt(dir, &f, 1);
    float *model = malloc(f.n * 4), *mom = malloc(f.n * 4);
    runstate rs = make_rs(&f, 0, model, mom);
    CHECK_EQ_INT(runstate_resume(dir, &rs, NULL, 0, &e), -1);
    CHECK_CONTAINS(e.msg, "none of 3 checkpoints is usable");
    free(model);
    free(mom);
    fixture_free(&f);
}

static void test_injected_failure_and_clean(void)
{
    photon_err e;
    fixture f;
    fixture_init(&f);
    char dir[512];
    path_join(dir, sizeof dir, th_tmpdir(), "ckpt");
    save_round(dir, &f, 1, 0, &e);
    fill(&f, 2);
    runstate rs = make_rs(&f, 2, f.model, f.mom);
    CHECK(runstate_save(dir, &rs, 0, true, NULL, 0, &e) == -1);
    CHECK_CONTAINS(e.msg, "injected fault");
    char out[256];
    th_run(out, sizeof out, "ls %s", dir);
    CHECK_STR(out, "ckpt-00000001.h5\n");
    check_resume(dir, &f, 1);
    /* stale temp of a dead process goes; our own pid's stays unless asked */
    char p1[1024], p2[1024], name[80];
    path_join(p1, sizeof p1, dir, "ckpt-00000005.h5.tmp.999999999");
    snprintf(name, sizeof name, "ckpt-00000006.h5.tmp.%ld", (long)getpid());
    path_join(p2, sizeof p2, dir, name);
    th_write_file(dir, "ckpt-00000005.h5.tmp.999999999", "x");
    th_write_file(dir, name, "x");
    th_write_file(dir, "summary.json.tmp.999999998", "x");     /* afile_open's naming */
    th_write_file(dir, "notes.tmp.txt", "x");                  /* not a temp file */
    CHECK_EQ_INT(runstate_clean(dir, false), 2);
    CHECK(!file_exists(p1) && file_exists(p2));
    char keep[1024];
    path_join(keep, sizeof keep, dir, "notes.tmp.txt");
    CHECK(file_exists(keep));
    unlink(keep);
    CHECK_EQ_INT(runstate_clean(dir, true), 1);
    CHECK(!file_exists(p2));
    /* a save after resuming from an older checkpoint drops the abandoned future */
    save_round(dir, &f, 9, 0, &e);
    save_round(dir, &f, 2, 0, &e);
    int64_t rounds[8];
    CHECK_EQ_INT(runstate_list(dir, rounds, 8), 2);
    CHECK(rounds[0] == 2 && rounds[1] == 1);
    /* another spelling of a round is not a checkpoint photon-sim wrote (it
     * was listed as round 5 and then looked for as ckpt-00000005.h5) */
    th_write_file(dir, "ckpt-5.h5", "x");
    th_write_file(dir, "ckpt-000000007.h5", "x");
    CHECK_EQ_INT(runstate_list(dir, rounds, 8), 2);
    CHECK(rounds[0] == 2);
    /* more checkpoints than the listing keeps: the newest is still first
     * (the listing once stopped after 4096 directory entries) */
    char many[512];
    path_join(many, sizeof many, th_tmpdir(), "many");
    CHECK(mkdir_p(many, &e) == 0);
    for (int r = 1; r <= 4200; r++) {
        char name[64];
        snprintf(name, sizeof name, "ckpt-%08d.h5", (r * 7919) % 4200 + 1);   /* in no particular order */
        th_write_file(many, name, "");
    }
    CHECK_EQ_INT(runstate_list(many, rounds, 8), 8);
    CHECK_EQ_INT(rounds[0], 4200);
    CHECK_EQ_INT(rounds[7], 4193);
    fixture_free(&f);
}

static void test_mismatch(void)
{
    photon_err e;
    fixture f;
    fixture_init(&f);
    char dir[512];
    path_join(dir, sizeof dir, th_tmpdir(), "ckpt");
    save_round(dir, &f, 1, 0, &e);
    char p[1024];
    path_join(p, sizeof p, dir, "ckpt-00000001.h5");
    float *model = malloc(f.n * 4), *mom = malloc(f.n * 4);
    runstate rs = make_rs(&f, 0, model, mom);
    rs.sampler[2] = 3;
    CHECK(runstate_load(p, &rs, &e) == -1);
    CHECK_CONTAINS(e.msg, "sampler");
    rs = make_rs(&f, 0, model, mom);
    rs.model_cfg.seq_len = 8;
    CHECK(runstate_load(p, &rs, &e) == -1);
    CHECK_CONTAINS(e.msg, "model shape");
    free(model);
    free(mom);
    /* a run without momentum saved, resumed by one that needs it */
    fill(&f, 2);
    runstate nm = make_rs(&f, 2, f.model, NULL);
    runstate_save(dir, &nm, 0, false, NULL, 0, &e);
    path_join(p, sizeof p, dir, "ckpt-00000002.h5");
    model = malloc(f.n * 4);
    mom = malloc(f.n * 4);
    rs = make_rs(&f, 0, model, mom);
    CHECK(runstate_load(p, &rs, &e) == -1);
    CHECK_CONTAINS(e.msg, "outer_optimizer");
    free(model);
    free(mom);
    fixture_free(&f);
}

/* A child saves rounds 1, 2, 3, ... as fast as it can; the parent SIGKILLs
 * it after a few different delays.  Each time: stale temps are cleaned and
 * resume loads a complete checkpoint whose contents match its round. */
static void test_sigkill_during_writes(void)
{
    int delays_us[3] = {3000, 20000, 60000};
    for (int t = 0; t < 3; t++) {
        char dir[512];
        path_join(dir, sizeof dir, th_tmpdir(), "ckpt");
        photon_err e;
        fixture f;
        fixture_init(&f);
        save_round(dir, &f, 1, 0, &e);
        pid_t pid = fork();
        if (pid == 0) {
            for (int r = 2; r < 100000; r++) save_round(dir, &f, r, 2, &e);
            _exit(0);
        }
        usleep((useconds_t)delays_us[t]);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        runstate_clean(dir, false);
        int64_t rounds[8];
        int n = runstate_list(dir, rounds, 8);
        CHECK(n >= 1);
        check_resume(dir, &f, rounds[0]);
        char out[256];
        th_run(out, sizeof out, "ls %s | grep -c tmp", dir);
        CHECK_STR(out, "0\n");
        fixture_free(&f);
    }
}

int main(void)
{
    RUN(test_roundtrip_and_keep);
    RUN(test_fallback);
    RUN(test_injected_failure_and_clean);
    RUN(test_mismatch);
    RUN(test_sigkill_during_writes);
    return th_finish();
}
