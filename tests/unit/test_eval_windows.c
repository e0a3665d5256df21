/* Evaluation windows (io/eval_windows.h, io/val_index.h) on a val.bin of
 * three sources of very different sizes, whose tokens say which source they
 * come from (source s holds ids s*100 .. s*100+99):
 *  - a budget that covers the set scores every window of every source;
 *  - smaller budgets score exactly budget / seq_len windows (at least one per
 *    source), shared in proportion to the sources' sizes after the minimum,
 *    every window inside one source (checked on the tokens themselves) and
 *    spread over the whole source, not bunched at its start;
 *  - a manifest without first_token (prepared before it existed) gives the
 *    same plan; damaged manifests are refused with a clear message;
 *  - the per-source losses equal an independent computation (one window per
 *    forward pass, the backend's own mean), whatever the batch size, with
 *    a padded last batch; and scoring is bitwise repeatable. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "io/common.h"
#include "io/eval_windows.h"
#include "io/shard.h"

#define SEQ 8
#define V 512
static const int64_t sizes[3] = { 1000, 333, 40 };
static const char *names[3] = { "wiki", "c4", "books" };
static char dir[2048], val[4096], man[4096];

static void write_manifest(const char *path, int with_first)
{
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"format\": \"photon-sim-data\", \"sources\": [{\"name\": \"x\", \"tokens\": 5}],\n \"validation\": [");
    int64_t first = 0;
    for (int s = 0; s < 3; s++) {
        fprintf(f, "%s{\"name\": \"%s\", \"path\": \"p\", \"docs\": 3, \"tokens\": %lld", s ? ", " : "", names[s],
                (long long)sizes[s]);
        if (with_first) fprintf(f, ", \"first_token\": %lld", (long long)first);
        fputs("}", f);
        first += sizes[s];
    }
    fprintf(f, "],\n \"clients\": [], \"seconds\": 1.5}\n");
    fclose(f);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s", th_tmpdir());
    snprintf(val, sizeof val, "%s/val.bin", dir);
    snprintf(man, sizeof man, "%s/manifest.json", dir);
    int64_t n = sizes[0] + sizes[1] + sizes[2], i = 0;
    uint32_t *tok = malloc((size_t)n * sizeof *tok);
    for (int s = 0; s < 3; s++)
        for (int64_t k = 0; k < sizes[s]; k++) tok[i++] = (uint32_t)(s * 100 + (k * 7 + s) % 100);
    photon_err err;
    if (shard_write(val, tok, (size_t)n, 0, &err) < 0) printf("%s\n", err.msg);
    free(tok);
    write_manifest(man, 1);
}

static eval_set *open_budget(int64_t budget, int B, photon_err *err)
{
    eval_spec spec = { .budget_tokens = budget, .T = SEQ, .B = B };
    return eval_set_open(val, man, NULL, V, &spec, err);
}

static int64_t cap_of(int s) { return (sizes[s] - 1) / SEQ; }

static void test_whole_set(void)
{
    photon_err err;
    eval_set *e = open_budget(1000000, 4, &err);
    CHECK_MSG(e != NULL, "open: %s", e ? "" : err.msg);
    if (!e) return;
    CHECK_EQ_INT(eval_set_sources(e), 3);
    int64_t w = 0, first = 0;
    for (int s = 0; s < 3; s++) {
        CHECK_STR(eval_set_source_name(e, s), names[s]);
        CHECK_EQ_INT(eval_set_source_capacity(e, s), cap_of(s));
        CHECK_EQ_INT(eval_set_windows(e, s), cap_of(s));
        int ok = 1;
        for (int64_t j = 0; j < cap_of(s); j++, w++)
            ok &= eval_set_window_start(e, w) == first + j * SEQ && eval_set_window_source(e, w) == s;
        CHECK_MSG(ok, "source %d: every window j at first + j*SEQ, in order", s);
        first += sizes[s];
    }
    CHECK_EQ_INT(eval_set_windows(e, -1), w);
    eval_set_free(e);
}

/* Every window of the plan lies inside its source: all its tokens carry the source's id. */
static int windows_inside(eval_set *e)
{
    shard *sh = shard_open(val, V, NULL);
    uint32_t buf[SEQ + 1];
    int ok = 1;
    for (int64_t i = 0; i < eval_set_windows(e, -1); i++) {
        int s = eval_set_window_source(e, i);
        shard_read(sh, (size_t)eval_set_window_start(e, i), SEQ + 1, buf);
        for (int t = 0; t <= SEQ; t++) ok &= (int)(buf[t] / 100) == s;
    }
    shard_close(sh);
    return ok;
}

static void test_budgets(void)
{
    const int B = 4;
    const int64_t Ns[] = { 100, 50, 20, 12, 5, 3, 2, 1 };
    for (size_t k = 0; k < sizeof Ns / sizeof Ns[0]; k++) {
        int64_t N = Ns[k];
        photon_err err;
        eval_set *e = open_budget(N * SEQ + SEQ / 2, B, &err);   /* a part window buys nothing */
        CHECK_MSG(e != NULL, "open N=%lld: %s", (long long)N, e ? "" : err.msg);
        if (!e) continue;
        int64_t total = eval_set_windows(e, -1);
        CHECK_MSG(total == (N >= 3 ? N : 3), "N=%lld: %lld windows (budget, or one per source)", (long long)N,
                  (long long)total);
        /* independent share: the minimum, then the rest by remaining size */
        int64_t m = N / 3 < B ? N / 3 : B, rest = N, left = 0;
        if (m < 1) m = 1;
        for (int s = 0; s < 3; s++) { rest -= cap_of(s) < m ? cap_of(s) : m; left += cap_of(s) - (cap_of(s) < m ? cap_of(s) : m); }
        for (int s = 0; s < 3; s++) {
            int64_t n = eval_set_windows(e, s), base = cap_of(s) < m ? cap_of(s) : m;
            double want = (double)base + (rest > 0 ? (double)rest * (double)(cap_of(s) - base) / (double)left : 0);
            CHECK_MSG(n >= 1 && fabs((double)n - want) < 1.0, "N=%lld source %d: %lld windows, share %.2f",
                      (long long)N, s, (long long)n, want);
        }
        CHECK_MSG(windows_inside(e), "N=%lld: every window inside one source", (long long)N);
        /* spread: strictly increasing, first in the first stratum, last in the last */
        int64_t w = 0, first = 0;
        for (int s = 0; s < 3; s++) {
            int64_t n = eval_set_windows(e, s), cap = cap_of(s), prev = -1;
            int ok = 1;
            for (int64_t i = 0; i < n; i++, w++) {
                int64_t j = (eval_set_window_start(e, w) - first) / SEQ;
                ok &= j > prev && j < cap;
                if (i == 0) ok &= j * n <= cap;
                if (i == n - 1) ok &= (j + 1) * n >= cap * (n - 1);
                prev = j;
            }
            CHECK_MSG(ok, "N=%lld source %d: %lld windows spread over its %lld", (long long)N, s, (long long)n,
                      (long long)cap);
            first += sizes[s];
        }
        eval_set_free(e);
    }
    /* N = 20 by hand: minimum 4 each (12), then 8 by remaining size 120:37:0 -> 6.1, 1.9 -> 6 + 2 */
    photon_err err;
    eval_set *e = open_budget(20 * SEQ, B, &err);
    if (e) {
        CHECK_EQ_INT(eval_set_windows(e, 0), 10);
        CHECK_EQ_INT(eval_set_windows(e, 1), 6);
        CHECK_EQ_INT(eval_set_windows(e, 2), 4);
        eval_set_free(e);
    }
}

static void test_old_manifest_and_identity(void)
{
    photon_err err;
    eval_set *a = open_budget(30 * SEQ, 4, &err), *b = open_budget(30 * SEQ, 4, &err), *c = open_budget(31 * SEQ, 4, &err);
    char old[4200];
    snprintf(old, sizeof old, "%s/old.json", dir);
    write_manifest(old, 0);
    eval_spec spec = { .budget_tokens = 30 * SEQ, .T = SEQ, .B = 4 };
    eval_set *d = eval_set_open(val, old, NULL, V, &spec, &err);
    CHECK(a && b && c && d);
    if (a && b && c && d) {
        CHECK(eval_set_hash(a) == eval_set_hash(b));
        CHECK(eval_set_hash(a) != eval_set_hash(c));
        CHECK_MSG(eval_set_hash(a) == eval_set_hash(d), "a manifest without first_token gives the same windows");
    }
    eval_set_free(a); eval_set_free(b); eval_set_free(c); eval_set_free(d);
    /* no manifest: one source named as given */
    spec.budget_tokens = 1 << 20;
    eval_set *one = eval_set_open(val, NULL, "val", V, &spec, &err);
    CHECK(one != NULL);
    if (one) {
        CHECK_EQ_INT(eval_set_sources(one), 1);
        CHECK_STR(eval_set_source_name(one, 0), "val");
        CHECK_EQ_INT(eval_set_windows(one, -1), (sizes[0] + sizes[1] + sizes[2] - 1) / SEQ);
        eval_set_free(one);
    }
}

static void expect_refused(const char *what, const char *json, const char *msg)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/bad.json", dir);
    FILE *f = fopen(p, "w");
    fputs(json, f);
    fclose(f);
    eval_spec spec = { .budget_tokens = 100, .T = SEQ, .B = 4 };
    photon_err err = { "" };
    eval_set *e = eval_set_open(val, p, NULL, V, &spec, &err);
    CHECK_MSG(e == NULL && strstr(err.msg, msg), "%s: refused with '%s' (got '%s')", what, msg, e ? "accepted" : err.msg);
    eval_set_free(e);
}

static void test_bad_manifests(void)
{
    expect_refused("sum short of val.bin",
                   "{\"validation\": [{\"name\": \"a\", \"tokens\": 1000}, {\"name\": \"b\", \"tokens\": 372}]}",
                   "run `photon-sim prepare` again");
    expect_refused("sum beyond val.bin",
                   "{\"validation\": [{\"name\": \"a\", \"tokens\": 1000}, {\"name\": \"b\", \"tokens\": 1000}]}",
                   "the prepared data is inconsistent");
    expect_refused("gap between sources",
                   "{\"validation\": [{\"name\": \"a\", \"tokens\": 1000, \"first_token\": 0}, "
                   "{\"name\": \"b\", \"tokens\": 373, \"first_token\": 1001}]}",
                   "not contiguous");
    expect_refused("duplicate names",
                   "{\"validation\": [{\"name\": \"a\", \"tokens\": 1000}, {\"name\": \"a\", \"tokens\": 373}]}",
                   "two validation sources are named 'a'");
    expect_refused("huge count",
                   "{\"validation\": [{\"name\": \"a\", \"tokens\": 900000000000000000}]}", "token count out of range");
    expect_refused("negative count", "{\"validation\": [{\"name\": \"a\", \"tokens\": -5}]}", "token count out of range");
    expect_refused("no name", "{\"validation\": [{\"tokens\": 1373}]}", "without \"name\"");
    expect_refused("name not a string", "{\"validation\": [{\"name\": 3, \"tokens\": 1373}]}", "is not a string");
    expect_refused("no validation list", "{\"sources\": []}", "no \"validation\" list");
    expect_refused("malformed", "{\"validation\": [{\"name\": \"a\", \"tokens\": 13", "byte ");
    expect_refused("not an object", "[1, 2]", "expected a JSON object");
    char many[4096] = "{\"validation\": [";
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s{\"name\": \"s%d\", \"tokens\": 1}", i ? "," : "", i);
    strcat(many, "]}");
    expect_refused("17 sources", many, "more validation sources than");
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/none.json", dir);
    eval_spec spec = { .budget_tokens = 100, .T = SEQ, .B = 4 };
    photon_err err;
    CHECK(eval_set_open(val, missing, NULL, V, &spec, &err) == NULL && strstr(err.msg, "no manifest"));
}

/* Per-source mean losses, one window per forward pass (B = 1, the backend's
 * own mean over the window) at the plan's window starts. */
static void reference(eval_set *e, const gpt2_config *g, const float *params, double *mean)
{
    photon_err err;
    backend_opts o = { .kind = PHOTON_BACKEND_CPU, .threads = 1 };
    photon_model *m = model_create(g, 1, SEQ, &o, &err);
    m->ops->set_params(m, params);
    shard *sh = shard_open(val, V, NULL);
    double sum[3] = { 0 };
    int64_t cnt[3] = { 0 };
    uint32_t buf[SEQ + 1];
    for (int64_t i = 0; i < eval_set_windows(e, -1); i++) {
        shard_read(sh, (size_t)eval_set_window_start(e, i), SEQ + 1, buf);
        int s = eval_set_window_source(e, i);
        sum[s] += m->ops->forward_loss(m, buf);
        cnt[s]++;
    }
    for (int s = 0; s < 3; s++) mean[s] = sum[s] / (double)cnt[s];
    shard_close(sh);
    model_destroy(m);
}

static void test_scores(void)
{
    gpt2_config g = { .n_layer = 1, .n_head = 2, .d_model = 16, .seq_len = SEQ, .vocab_size = V, .padded_vocab = V };
    float *params = malloc(gpt2_num_params(&g) * sizeof *params);
    gpt2_init_params(&g, params, 5, 0.3);
    for (int B = 1; B <= 5; B += 2) {
        photon_err err;
        eval_set *e = open_budget(23 * SEQ, B, &err);   /* 23 windows: B = 3 and 5 pad the last batch */
        if (!e) { CHECK_MSG(0, "open: %s", err.msg); continue; }
        backend_opts o = { .kind = PHOTON_BACKEND_CPU, .threads = 2 };
        photon_model *m = model_create(&g, eval_set_batch(e), SEQ, &o, &err);
        m->ops->set_params(m, params);
        eval_sums s1, s2;
        eval_set_score(e, m, &s1);
        eval_set_score(e, m, &s2);
        CHECK_MSG(memcmp(&s1, &s2, sizeof s1) == 0, "B=%d: scoring twice is bitwise the same", B);
        double ref[3];
        reference(e, &g, params, ref);
        double all = 0;
        for (int s = 0; s < 3; s++) {
            CHECK_EQ_INT(s1.windows[s], eval_set_windows(e, s));
            CHECK_CLOSE(eval_sums_loss(&s1, s), ref[s], 1e-5);
            all += ref[s] * (double)eval_set_windows(e, s);
        }
        CHECK_CLOSE(eval_sums_loss(&s1, -1), all / 23.0, 1e-5);
        CHECK_MSG(eval_sums_loss(&s1, 0) > 1.0, "a real loss (%g)", eval_sums_loss(&s1, 0));
        model_destroy(m);
        eval_set_free(e);
    }
    free(params);
}

int main(void)
{
    setup();
    RUN(test_whole_set);
    RUN(test_budgets);
    RUN(test_old_manifest_and_identity);
    RUN(test_bad_manifests);
    RUN(test_scores);
    return th_finish();
}
