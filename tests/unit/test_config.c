/* Unit tests of the experiment-file system (io/config*.c): schema defaults,
 * every value type with its range and error text, lists and continuation
 * lines, includes (nested, relative, cycles), duplicate and unknown keys with
 * suggestions, --set overrides, cross-key checks, and that the resolved dump
 * loads back to the identical struct. */
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"
#include "io/config.h"
#include "io/config_schema.h"

static const char *dir;
static photon_config cfg;
static photon_err err;

/* Minimal valid body: the only required key is a data source. */
#define BASE "[data]\nsources = text.txt\n"

/* Writes name with text and loads it with the given overrides. */
static int load_sets(const char *name, const char *text, const char *const *sets, int n)
{
    const char *path = th_write_file(dir, name, text);
    err.msg[0] = 0;
    return config_load(&cfg, path, sets, n, &err);
}
static int load(const char *name, const char *text) { return load_sets(name, text, NULL, 0); }

/* Creates an empty input file (or a directory when the name ends in '/') under dir. */
static void touch(const char *name)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    size_t n = strlen(p);
    if (p[n - 1] == '/') { CHECK(mkdir_p(p, &err) == 0); return; }
    char d[PATH_MAX];
    path_dirname(p, d, sizeof d);
    CHECK(mkdir_p(d, &err) == 0);
    th_write_file(d, p + strlen(d) + 1, "text\n");
}

static void test_defaults(void)
{
    config_defaults(&cfg);
    CHECK_STR(cfg.run.name, "photon");
    CHECK_EQ_INT(cfg.run.seed, 42);
    CHECK_EQ_INT(cfg.run.backend, BACKEND_AUTO);
    CHECK_EQ_INT(cfg.model.n_layer, 2);
    CHECK_EQ_INT(cfg.model.pad_vocab, 1);
    CHECK_CLOSE(cfg.clients.lr, 6e-4, 1e-15);
    CHECK_EQ_INT(cfg.clients.optimizer_state, OPTSTATE_KEEP);
    CHECK_EQ_INT(cfg.aggregator.strategy, STRAT_FEDAVG);
    CHECK_STR(cfg.data.tokenizer, "train");
    CHECK_STR(cfg.faults.kill_signal, "KILL");
    CHECK_EQ_INT(cfg.faults.kill_round, -1);
    CHECK_EQ_INT(cfg.data.sources.n, 0);
    /* Every key's default is in its own range: re-parse each one. */
    for (int k = 0; k < cfg_nkeys; k++) {
        photon_config c2;
        config_defaults(&c2);
        CHECK_MSG(cfg_parse_value(&c2, k, cfg_keys[k].def, NULL, &err) == 0, "default of %s.%s: %s",
                  cfg_keys[k].section, cfg_keys[k].key, err.msg);
        CHECK_MSG(cfg_keys[k].help && cfg_keys[k].help[0], "help of %s.%s", cfg_keys[k].section, cfg_keys[k].key);
    }
    /* Defaults alone fail only for the missing data source. */
    CHECK(config_validate(&cfg, &err) < 0);
    CHECK_CONTAINS(err.msg, "[data] sources");
}

static void test_types(void)
{
    CHECK_EQ_INT(load("t.ini", "[run]\nseed = 18446744073709551615\nbackend = CPU\nthreads = 3\n"
                      "[model]\ninit_std = 1e-2\n[aggregator]\nrequeue = yes\n[data]\nmax_docs = 5000000000\n"
                      "sources = text.txt\n[faults]\nkill_signal = segv\ncorrupt = nan\n"), 0);
    CHECK_MSG(cfg.run.seed == UINT64_MAX, "seed %llu", (unsigned long long)cfg.run.seed);
    CHECK_EQ_INT(cfg.run.backend, BACKEND_CPU);
    CHECK_EQ_INT(cfg.run.threads, 3);
    CHECK_CLOSE(cfg.model.init_std, 0.01, 1e-15);
    CHECK(cfg.aggregator.requeue);
    CHECK(cfg.data.max_docs == 5000000000LL);
    CHECK_STR(cfg.faults.kill_signal, "SEGV");
    CHECK_STR(cfg.faults.corrupt, "nan");

    CHECK_EQ_INT(load("t.ini", BASE "[model]\nn_layer = abc\n"), -1);
    CHECK_CONTAINS(err.msg, "t.ini:4: [model] n_layer: expected an integer in [1, 1024] (got 'abc')");
    CHECK_EQ_INT(load("t.ini", BASE "[model]\nn_layer = 3.5\n"), -1);
    CHECK_CONTAINS(err.msg, "(got '3.5')");
    CHECK_EQ_INT(load("t.ini", BASE "[run]\nseed = -1\n"), -1);
    CHECK_CONTAINS(err.msg, "[run] seed: expected an unsigned 64-bit integer (got '-1')");
    CHECK_EQ_INT(load("t.ini", BASE "[aggregator]\nrequeue = maybe\n"), -1);
    CHECK_CONTAINS(err.msg, "expected true or false (got 'maybe')");
    CHECK_EQ_INT(load("t.ini", BASE "[run]\nbackend = gpu\n"), -1);
    CHECK_CONTAINS(err.msg, "t.ini:4: [run] backend: expected one of auto, cpu, cuda (got 'gpu')");
    CHECK_EQ_INT(load("t.ini", BASE "[faults]\nkill_signal = HUP\n"), -1);
    CHECK_CONTAINS(err.msg, "one of KILL, SEGV, ABRT, exit");
    CHECK_EQ_INT(load("t.ini", BASE "[clients]\nlr = fast\n"), -1);
    CHECK_CONTAINS(err.msg, "[clients] lr: expected a number in (0, 100] (got 'fast')");
    CHECK_EQ_INT(load("t.ini", BASE "[clients]\nlr = nan\n"), -1);
}

static void test_ranges(void)
{
    CHECK_EQ_INT(load("r.ini", BASE "[model]\nn_layer = 0\n"), -1);
    CHECK_CONTAINS(err.msg, "r.ini:4: [model] n_layer: expected an integer in [1, 1024] (got '0')");
    CHECK_EQ_INT(load("r.ini", BASE "[model]\nn_layer = 1024\n"), 0);
    CHECK_EQ_INT(load("r.ini", BASE "[model]\nn_layer = 99999999999\n"), -1);
    CHECK_EQ_INT(load("r.ini", BASE "[clients]\nlr = 0\n"), -1);          /* (0, 100]: 0 excluded */
    CHECK_EQ_INT(load("r.ini", BASE "[clients]\nlr = 100\n"), 0);
    CHECK_EQ_INT(load("r.ini", BASE "[clients]\nbeta2 = 1\n"), -1);       /* [0, 1): 1 excluded */
    CHECK_CONTAINS(err.msg, "expected a number in [0, 1) (got '1')");
    CHECK_EQ_INT(load("r.ini", BASE "[clients]\nbeta2 = 0\n"), 0);
    CHECK_EQ_INT(load("r.ini", BASE "[faults]\nkill_round = -2\n"), -1);
    CHECK_EQ_INT(load("r.ini", BASE "[data]\nmax_docs = -1\n"), -1);   /* a section may appear twice */
    CHECK_CONTAINS(err.msg, "[data] max_docs: expected an integer >= 0 (got '-1')");
}

static void test_lists_and_paths(void)
{
    char parent[PATH_MAX], real[PATH_MAX + 8];
    CHECK(realpath(dir, parent) != NULL);
    snprintf(real, sizeof real, "%s/lp", parent);
    char want[2 * PATH_MAX + 64], text[2 * PATH_MAX + 400];
    const char *inputs[] = { "w.json.gz", "lp/c4.json.gz", "books.txt", "lp/sub/x.txt", "lp/tok/", "lp/v.txt" };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) touch(inputs[i]);
    snprintf(text, sizeof text, "; comment\n[data]\nsources = wiki=../w.json.gz, c4.json.gz,\n"
             "    %s/books.txt\n\n  ; a comment in between\n    sub/./x.txt\n"
             "tokenizer = tok\nvalidation = v.txt\nassign = wiki=0-1, c4=2+3\n", parent);
    CHECK_EQ_INT(load("lp/l.ini", text), 0);
    CHECK_EQ_INT(cfg.data.sources.n, 4);
    snprintf(want, sizeof want, "wiki=%s/w.json.gz", parent);
    CHECK_STR(cfg.data.sources.item[0], want);
    snprintf(want, sizeof want, "%s/c4.json.gz", real);
    CHECK_STR(cfg.data.sources.item[1], want);
    snprintf(want, sizeof want, "%s/books.txt", parent);
    CHECK_STR(cfg.data.sources.item[2], want);
    snprintf(want, sizeof want, "%s/sub/x.txt", real);
    CHECK_STR(cfg.data.sources.item[3], want);
    snprintf(want, sizeof want, "%s/tok", real);
    CHECK_STR(cfg.data.tokenizer, want);
    CHECK_EQ_INT(cfg.data.assign.n, 2);
    CHECK_STR(cfg.data.assign.item[1], "c4=2+3");   /* plain lists are not paths */
    /* Special values stay as they are. */
    CHECK_EQ_INT(load("l.ini", BASE "tokenizer = train\n"), 0);
    CHECK_STR(cfg.data.tokenizer, "train");
    /* Lists have no small cap: 300 items load, in order, through copies too. */
    {
        char *big = xmalloc(8192);
        size_t len = (size_t)snprintf(big, 8192, BASE "[data]\nassign = ");
        for (int i = 0; i < 300; i++) len += (size_t)snprintf(big + len, 8192 - len, "%ss%d=0%s", i % 20 ? "" : "\n    ", i, i < 299 ? "," : "\n");
        CHECK_EQ_INT(load("l.ini", big), 0);
        photon_config copy = cfg;
        CHECK_EQ_INT(copy.data.assign.n, 300);
        CHECK_STR(copy.data.assign.item[0], "s0=0");
        CHECK_STR(copy.data.assign.item[299], "s299=0");
        free(big);
    }
    /* An item longer than a value may be is an error naming the key. */
    {
        char big[600];
        snprintf(big, sizeof big, "data.assign=a=0, %0300d", 0);
        const char *sets[] = { big };
        CHECK_EQ_INT(load_sets("l.ini", BASE, sets, 1), -1);
        CHECK_CONTAINS(err.msg, "--set data.assign: [data] assign: expected a comma-separated list (items of at most 255 characters)");
    }
    /* A continuation line after a scalar is an error at that line. */
    CHECK_EQ_INT(load("l.ini", BASE "[run]\nname = a\n  b\n"), -1);
    CHECK_CONTAINS(err.msg, "l.ini:5: [run] name: an indented line continues a list value");
    /* A line longer than inih's buffer is an error at its own line, and the
     * line numbers after long continuation lists stay right. */
    char big[600];
    snprintf(big, sizeof big, BASE "[run]\nname = %0300d\n", 7);
    CHECK_EQ_INT(load("l.ini", big), -1);
    CHECK_CONTAINS(err.msg, "l.ini:4: line is 307 characters long");
    CHECK_EQ_INT(load("l.ini", "[data]\nsources = a,\n  b,\n  c\n\n; x\n# y\n[model]\nn_head = x\n"), -1);
    CHECK_CONTAINS(err.msg, "l.ini:9: [model] n_head");
}

static void test_includes(void)
{
    char sub[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/presets", dir);
    CHECK(mkdir_p(sub, &err) == 0);
    touch("presets/base.txt");
    th_write_file(sub, "base.ini", "[model]\nn_layer = 6\nn_head = 4\nd_model = 128\n[data]\nsources = base.txt\n");
    th_write_file(sub, "mid.ini", "include = base.ini\n[model]\nn_layer = 8\n[clients]\ncount = 6\n");
    th_write_file(sub, "other.ini", "[clients]\ncount = 7\nlr = 0.5\n");
    /* The file's own keys win over its includes even when set before the include. */
    CHECK_EQ_INT(load("i.ini", "[model]\nn_head = 8\ninclude = presets/mid.ini, presets/other.ini\n"), 0);
    CHECK_EQ_INT(cfg.model.n_layer, 8);      /* mid overrides base */
    CHECK_EQ_INT(cfg.model.n_head, 8);       /* own key overrides base */
    CHECK_EQ_INT(cfg.model.d_model, 128);    /* from base, two levels down */
    CHECK_EQ_INT(cfg.clients.count, 7);      /* the later include wins */
    char want[PATH_MAX + 32], real[PATH_MAX];
    CHECK(realpath(sub, real) != NULL);
    snprintf(want, sizeof want, "%s/base.txt", real);
    CHECK_STR(cfg.data.sources.item[0], want);   /* relative to base.ini, not to i.ini */
    /* Missing include: names the including line. */
    CHECK_EQ_INT(load("i.ini", BASE "include = nope.ini\n"), -1);
    CHECK_CONTAINS(err.msg, "i.ini:3: include: ");
    CHECK_CONTAINS(err.msg, "nope.ini: cannot open: No such file or directory");
    /* Cycle a -> b -> a, and a file including itself. */
    th_write_file(sub, "a.ini", "include = b.ini\n");
    th_write_file(sub, "b.ini", "[run]\nname = x\ninclude = a.ini\n");
    CHECK_EQ_INT(load("i.ini", BASE "include = presets/a.ini\n"), -1);
    CHECK_CONTAINS(err.msg, "b.ini:3: include cycle: ");
    CHECK_CONTAINS(err.msg, "a.ini -> ");
    CHECK_EQ_INT(load("self.ini", "include = self.ini\n" BASE), -1);
    CHECK_CONTAINS(err.msg, "self.ini:1: include cycle");
    /* The same preset twice (not a cycle) is fine. */
    CHECK_EQ_INT(load("i.ini", "include = presets/base.ini\ninclude = presets/base.ini\n"), 0);
    /* An error inside an include names the included file and its line. */
    th_write_file(sub, "bad.ini", "[model]\n\nn_layer = -3\n");
    CHECK_EQ_INT(load("i.ini", BASE "include = presets/bad.ini\n"), -1);
    CHECK_CONTAINS(err.msg, "presets/bad.ini:3: [model] n_layer");
}

static void test_errors(void)
{
    CHECK_EQ_INT(load("e.ini", BASE "[clients]\nlocal_steps = 3\nlocal_steps = 4\n"), -1);
    CHECK_CONTAINS(err.msg, "e.ini:5: [clients] local_steps: duplicate key (first set on line 4");
    CHECK_EQ_INT(load("e.ini", BASE "[clients]\nloca_steps = 3\n"), -1);
    CHECK_CONTAINS(err.msg, "e.ini:4: [clients] loca_steps: unknown key (did you mean 'local_steps'?)");
    CHECK_EQ_INT(load("e.ini", BASE "[aggregator]\nwarmup = 3\n"), -1);
    CHECK_CONTAINS(err.msg, "did you mean [clients] warmup?");
    CHECK_EQ_INT(load("e.ini", BASE "[clients]\nzzzzzzzz = 3\n"), -1);
    CHECK_CONTAINS(err.msg, "[clients] zzzzzzzz: unknown key");
    CHECK(strstr(err.msg, "did you mean") == NULL);
    CHECK_EQ_INT(load("e.ini", BASE "\n[clinets]\ncount = 3\n"), -1);
    CHECK_CONTAINS(err.msg, "e.ini:4: unknown section [clinets] (did you mean [clients]?)");
    /* An unknown section with no keys is still an error. */
    CHECK_EQ_INT(load("e.ini", BASE "[modle]\n"), -1);
    CHECK_CONTAINS(err.msg, "e.ini:3: unknown section [modle] (did you mean [model]?)");
    CHECK_EQ_INT(load("e.ini", "name = x\n" BASE), -1);
    CHECK_CONTAINS(err.msg, "e.ini:1: key 'name' is outside any section");
    CHECK_EQ_INT(load("e.ini", BASE "[run]\nthis line has no equals sign\n"), -1);
    CHECK_CONTAINS(err.msg, "e.ini:4: syntax error");
    CHECK_EQ_INT(load("e.ini", BASE "[run\n"), -1);
    CHECK_CONTAINS(err.msg, "e.ini:3: syntax error");
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "%s/missing.ini", dir);
    CHECK_EQ_INT(config_load(&cfg, missing, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "missing.ini: cannot open: No such file or directory");
    CHECK_EQ_INT(config_load(&cfg, dir, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "is a directory");
}

static void test_overrides(void)
{
    const char *ok[] = { "clients.local_steps=7", "run.name = over", "data.sources=rel/x.txt", "clients.lr=1e-3" };
    /* --set paths are relative to the CWD: run this part from inside dir. */
    char old[PATH_MAX];
    CHECK(getcwd(old, sizeof old) != NULL);
    CHECK(chdir(dir) == 0);
    touch("rel/x.txt");
    CHECK_EQ_INT(load_sets("o.ini", BASE "[clients]\nlocal_steps = 3\n", ok, 4), 0);
    CHECK_EQ_INT(cfg.clients.local_steps, 7);
    CHECK_STR(cfg.run.name, "over");
    CHECK_CLOSE(cfg.clients.lr, 1e-3, 1e-15);
    char cwd[PATH_MAX], want[PATH_MAX + 16];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(want, sizeof want, "%s/rel/x.txt", cwd);
    CHECK_STR(cfg.data.sources.item[0], want);   /* --set paths: relative to the CWD */
    CHECK(chdir(old) == 0);
    const char *noeq[] = { "clients.local_steps" };
    CHECK_EQ_INT(load_sets("o.ini", BASE, noeq, 1), -1);
    CHECK_CONTAINS(err.msg, "--set 'clients.local_steps': expected section.key=value");
    const char *unknown[] = { "clients.loca_steps=3" };
    CHECK_EQ_INT(load_sets("o.ini", BASE, unknown, 1), -1);
    CHECK_CONTAINS(err.msg, "--set clients.loca_steps: [clients] loca_steps: unknown key (did you mean 'local_steps'?)");
    const char *badsec[] = { "clinets.count=3" };
    CHECK_EQ_INT(load_sets("o.ini", BASE, badsec, 1), -1);
    CHECK_CONTAINS(err.msg, "--set clinets.count: unknown section [clinets] (did you mean [clients]?)");
    const char *badval[] = { "model.n_head=many" };
    CHECK_EQ_INT(load_sets("o.ini", BASE, badval, 1), -1);
    CHECK_CONTAINS(err.msg, "--set model.n_head: [model] n_head: expected an integer");
    const char *nodot[] = { "seed=3" };
    CHECK_EQ_INT(load_sets("o.ini", BASE, nodot, 1), -1);
    CHECK_CONTAINS(err.msg, "--set 'seed=3'");
    /* Later overrides win over earlier ones. */
    const char *twice[] = { "run.seed=1", "run.seed=2" };
    CHECK_EQ_INT(load_sets("o.ini", BASE, twice, 2), 0);
    CHECK_EQ_INT(cfg.run.seed, 2);
}

static void test_inputs(void)
{
    CHECK_EQ_INT(load("n.ini", "[data]\nsources = text.txt,\n  nope.txt\n"), -1);
    CHECK_CONTAINS(err.msg, "n.ini:2: [data] sources: '");
    CHECK_CONTAINS(err.msg, "/nope.txt' not found (No such file or directory)");
    CHECK_EQ_INT(load("n.ini", "[data]\nsources = wiki=presets\n"), -1);
    CHECK_CONTAINS(err.msg, "[data] sources: expected a file, not a directory");
    CHECK_EQ_INT(load("n.ini", BASE "tokenizer = text.txt\n"), -1);
    CHECK_CONTAINS(err.msg, "n.ini:3: [data] tokenizer: expected a tokenizer directory (tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe)");
    const char *set[] = { "data.validation=/nonexistent/v.txt" };
    CHECK_EQ_INT(load_sets("n.ini", BASE, set, 1), -1);
    CHECK_CONTAINS(err.msg, "--set data.validation: [data] validation: '/nonexistent/v.txt' not found");
    /* A missing input replaced by --set is fine: only the final value counts. */
    const char *fix[] = { "data.sources=wiki=presets/base.txt" };
    CHECK_EQ_INT(load_sets("n.ini", "[data]\nsources = nope.txt\n", fix, 1), -1);  /* relative to the CWD */
    char abs[PATH_MAX + 64];
    snprintf(abs, sizeof abs, "data.sources=wiki=%s/presets/base.txt", dir);
    const char *fix2[] = { abs };
    CHECK_EQ_INT(load_sets("n.ini", "[data]\nsources = nope.txt\n", fix2, 1), 0);
}

static void test_cross_checks(void)
{
    CHECK_EQ_INT(load("x.ini", BASE "[model]\nn_head = 3\nd_model = 64\n"), -1);
    CHECK_CONTAINS(err.msg, "x.ini:5: [model] d_model = 64 is not a multiple of [model] n_head = 3");
    CHECK_EQ_INT(load("x.ini", BASE "[clients]\ncount = 4\nper_round = 5\n"), -1);
    CHECK_CONTAINS(err.msg, "x.ini:5: [clients] per_round = 5 is more than [clients] count = 4");
    const char *set[] = { "clients.per_round=2" };
    CHECK_EQ_INT(load_sets("x.ini", BASE "[aggregator]\nmin_clients = 3\n", set, 1), -1);
    CHECK_CONTAINS(err.msg, "x.ini:4: [aggregator] min_clients = 3 is more than the 2 clients sampled per round");
    CHECK_EQ_INT(load("x.ini", BASE "[clients]\nbatch_size = 8\ngrad_accum = 3\n"), -1);
    CHECK_CONTAINS(err.msg, "grad_accum = 3 does not divide");
    CHECK_EQ_INT(load("x.ini", "[run]\nname = x\n"), -1);
    CHECK_CONTAINS(err.msg, "x.ini: [data] sources: expected at least one text source");
    CHECK_EQ_INT(load("x.ini", BASE "[run]\nname = a/b\n"), -1);
    CHECK_CONTAINS(err.msg, "[run] name");
    touch("w.gz");
    touch("c4.json.gz");
    CHECK_EQ_INT(load("x.ini", "[data]\nsources = wiki=w.gz, c4.json.gz\npartition = by_source\n"
                      "assign = wiki=0-1, c4=2+3\n[clients]\ncount = 4\n"), 0);
    CHECK_EQ_INT(load("x.ini", "[data]\nsources = wiki=w.gz\npartition = by_source\nassign = books=0\n"), -1);
    CHECK_CONTAINS(err.msg, "'books' is not the name of a [data] sources item");
    CHECK_EQ_INT(load("x.ini", "[data]\nsources = wiki=w.gz\npartition = by_source\nassign = wiki=0-9\n"), -1);
    CHECK_CONTAINS(err.msg, "must be in [0, 4)");
    CHECK_EQ_INT(load("x.ini", BASE "[faults]\nkill_client = 4\n"), -1);
    CHECK_CONTAINS(err.msg, "x.ini:4: [faults] kill_client = 4: there are only 4 clients");
}

/* The resolved dump loads back to exactly the same struct. */
static void test_dump_roundtrip(void)
{
    const char *inputs[] = { "a.json.gz", "b.txt", "c.txt", "v1", "v2", "tok/" };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) touch(inputs[i]);
    CHECK_EQ_INT(load("d.ini", "[run]\nname = round-trip\nseed = 12345678901234\nbackend = cuda\nmode = centralized\n"
                      "out_dir = out\n[model]\nn_layer = 3\nn_head = 4\nd_model = 96\ninit_std = 0.0123456789012345\n"
                      "[data]\nsources = wiki=a.json.gz, b.txt, c.txt\nvalidation = v1, v2\ntokenizer = tok\n"
                      "partition = dirichlet\nalpha = 0.3\nassign = x=1\n[clients]\nlr = 6e-4\neps = 1e-10\n"
                      "weight_decay = 0.1\n[aggregator]\nstrategy = nesterov\nserver_lr = 0.7\nmomentum = 0.9\n"
                      "requeue = true\nlisten = 0.0.0.0:7000\n[faults]\ncorrupt = bitflip\nkill_prob = 0.05\n"
                      "[clients]\ncount = 12\n[network]\nbandwidth_mbps = 1, 2.5, 3, 4, 5, 6, 7, 8, 9, 10,\n"
                      "  11, 0.123456789012345\nlatency_ms = lognormal:20,0.75\ncompute_scale = loguniform:0.1,3\n"
                      "server_bandwidth_mbps = 1234.5\ncompute = model\ntokens_per_s = 99\ndevice_tflops = 1.5\n"), 0);
    CHECK(cfg.network.present);
    CHECK_EQ_INT(cfg.network.bandwidth_mbps.kind, DIST_LIST);
    CHECK_EQ_INT(cfg.network.bandwidth_mbps.n, 12);
    CHECK(cfg.network.bandwidth_mbps.v[11] == 0.123456789012345);
    photon_config first = cfg;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/dumped.ini", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    config_dump(&first, f);
    fclose(f);
    photon_config second;
    CHECK_EQ_INT(config_load(&second, path, NULL, 0, &err), 0);
    memcpy(second.source_path, first.source_path, sizeof first.source_path);
    /* Lists hold pointers to interned items: compare those item by item,
     * then every other bit of the struct. */
    for (int k = 0; k < cfg_nkeys; k++) {
        if (cfg_keys[k].type != CFG_T_LIST && cfg_keys[k].type != CFG_T_PATHLIST) continue;
        cfg_list *a = (cfg_list *)((char *)&first + cfg_keys[k].offset), *b = (cfg_list *)((char *)&second + cfg_keys[k].offset);
        CHECK_EQ_INT(a->n, b->n);
        for (int i = 0; i < a->n && i < b->n; i++) CHECK_STR(a->item[i], b->item[i]);
        *b = *a;
    }
    CHECK(memcmp(&first, &second, sizeof first) == 0);
    for (int k = 0; k < cfg_nkeys; k++) {
        char a[4 * CFG_STR], b[4 * CFG_STR];
        cfg_format_value(&first, k, a, sizeof a);
        cfg_format_value(&second, k, b, sizeof b);
        CHECK_MSG(strcmp(a, b) == 0, "%s.%s: '%s' vs '%s'", cfg_keys[k].section, cfg_keys[k].key, a, b);
    }
    /* The dump has every key. */
    char *text = file_read_all(path, NULL, &err);
    CHECK(text != NULL);
    for (int k = 0; text && k < cfg_nkeys; k++) {
        char line[128];
        snprintf(line, sizeof line, "\n%s =", cfg_keys[k].key);
        CHECK_MSG(strstr(text, line) != NULL, "dump has %s", cfg_keys[k].key);
    }
    free(text);
}

/* [network]: optional (present only when it appears), per-client values
 * in their three forms, and their errors naming file:line and key. */
static void test_network(void)
{
    CHECK_EQ_INT(load("n0.ini", BASE), 0);
    CHECK(!cfg.network.present);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/n0-dump.ini", dir);
    FILE *f = fopen(path, "w");
    if (!f) { CHECK(f != NULL); return; }
    config_dump(&cfg, f);
    fclose(f);
    char *text = file_read_all(path, NULL, &err);
    CHECK(text && !strstr(text, "[network]"));   /* off stays off through the dump */
    free(text);
    CHECK_EQ_INT(load("n1.ini", BASE "[network]\n"), 0);   /* a bare header turns the model on */
    CHECK(cfg.network.present);
    CHECK_EQ_INT(cfg.network.bandwidth_mbps.kind, DIST_CONST);
    CHECK(cfg.network.bandwidth_mbps.a == 100);
    const char *set[] = { "network.latency_ms=uniform:1,5" };
    CHECK_EQ_INT(load_sets("n2.ini", BASE, set, 1), 0);     /* so does --set */
    CHECK(cfg.network.present);
    CHECK_EQ_INT(cfg.network.latency_ms.kind, DIST_UNIFORM);
    CHECK(cfg.network.latency_ms.a == 1 && cfg.network.latency_ms.b == 5);
    /* an include that has [network] turns it on for the including file */
    th_write_file(dir, "net-preset.ini", "[network]\ncompute_scale = 0.5\n");
    CHECK_EQ_INT(load("n3.ini", "include = net-preset.ini\n" BASE), 0);
    CHECK(cfg.network.present);
    CHECK(cfg.network.compute_scale.a == 0.5);
    struct { const char *body, *want; } bad[] = {
        { "[network]\nbandwidth_mbps = -10\n", "n.ini:6: [network] bandwidth_mbps: expected a number in [0.001, 1000000]" },
        { "[network]\nbandwidth_mbps = 0\n", "n.ini:6: [network] bandwidth_mbps: expected" },
        { "[network]\nlatency_ms = 1, 2, 3\n", "n.ini:6: [network] latency_ms: 3 values for 4 clients" },
        { "[network]\nlatency_ms = 1, x, 3, 4\n", "n.ini:6: [network] latency_ms: expected a number" },
        { "[network]\ncompute_scale = gamma:1,2\n", "n.ini:6: [network] compute_scale: unknown distribution" },
        { "[network]\ncompute_scale = lognormal:1\n", "n.ini:6: [network] compute_scale: a distribution takes two parameters" },
        { "[network]\ncompute_scale = lognormal:1,2,3\n", "two parameters" },
        { "[network]\ncompute_scale = lognormal:1,-2\n", "SIGMA in [0, 10]" },
        { "[network]\nbandwidth_mbps = uniform:50,10\n", "LO is more than HI" },
        { "[network]\nbandwidth_mbps = uniform:-5,10\n", "bounds must be in [0.001, 1e+06]" },
        { "[network]\nbandwidth_mbps = lognormal:x,1\n", "median must be in" },
        { "[network]\nserver_bandwidth_mbps = -1\n", "n.ini:6: [network] server_bandwidth_mbps: expected a number in [0, 1000000000]" },
        { "[network]\ncompute = guess\n", "n.ini:6: [network] compute: expected one of measured, model" },
        { "[network]\nbandwith_mbps = 10\n", "unknown key (did you mean 'bandwidth_mbps'?)" },
        { "[netwerk]\n", "unknown section [netwerk] (did you mean [network]?)" },
        { "[aggregator]\nround_timeout = 5\n[network]\n", "n.ini:6: [aggregator] round_timeout acts on the simulated clock" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[512];
        snprintf(body, sizeof body, BASE "[clients]\ncount = 4\n%s", bad[i].body);
        CHECK_MSG(load("n.ini", body) == -1, "accepted: %s", bad[i].body);
        CHECK_CONTAINS(err.msg, bad[i].want);
    }
    /* round_timeout with measured compute is fine when every client has an actor, or with compute = model */
    CHECK_EQ_INT(load("n4.ini", BASE "[clients]\ncount = 4\nactors = 4\n[aggregator]\nround_timeout = 5\n[network]\n"), 0);
    CHECK_EQ_INT(load("n5.ini", BASE "[clients]\ncount = 4\n[aggregator]\nround_timeout = 5\n[network]\ncompute = model\n"), 0);
    /* too many values for the list */
    char *big = malloc(20000);
    size_t len = (size_t)snprintf(big, 20000, BASE "[network]\nlatency_ms = 1");
    for (int i = 1; i <= CFG_PERCLIENT_MAX; i++) len += (size_t)snprintf(big + len, 20000 - len, ",\n  %d", i);
    CHECK_EQ_INT(load("n6.ini", big), -1);
    CHECK_CONTAINS(err.msg, "more than 1024 values (use a distribution");
    free(big);
    /* plan's loader: no data sources needed, and input paths need not exist */
    const char *p7 = th_write_file(dir, "n7.ini", "[model]\nn_layer = 3\n[data]\ntokenizer = no/such/dir\n");
    CHECK_EQ_INT(config_load(&cfg, p7, NULL, 0, &err), -1);
    CHECK_EQ_INT(config_load_model_only(&cfg, p7, NULL, 0, &err), 0);
    CHECK_EQ_INT(cfg.model.n_layer, 3);
}

static void test_reference(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/ref.md", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    config_reference(f);
    fclose(f);
    char *text = file_read_all(path, NULL, &err);
    CHECK(text != NULL);
    if (!text) return;
    for (int s = 0; s < cfg_nsections; s++) {
        char h[64];
        snprintf(h, sizeof h, "## [%s]", cfg_sections[s].name);
        CHECK_CONTAINS(text, h);
    }
    for (int k = 0; k < cfg_nkeys; k++) {
        char row[128];
        snprintf(row, sizeof row, "| `%s` | %s |", cfg_keys[k].key, cfg_type_name(cfg_keys[k].type));
        CHECK_MSG(strstr(text, row) != NULL, "reference has %s", row);
    }
    CHECK_CONTAINS(text, "| `backend` | enum | `auto` | one of auto, cpu, cuda |");
    free(text);
    char rd[300];
    config_defaults(&cfg);
    config_run_dir(&cfg, rd, sizeof rd);
    CHECK_STR(rd, "runs/photon");
}

int main(void)
{
    dir = th_tmpdir();
    touch("text.txt");   /* the data source of BASE */
    RUN(test_defaults);
    RUN(test_types);
    RUN(test_ranges);
    RUN(test_lists_and_paths);
    RUN(test_includes);
    RUN(test_errors);
    RUN(test_overrides);
    RUN(test_inputs);
    RUN(test_cross_checks);
    RUN(test_dump_roundtrip);
    RUN(test_network);
    RUN(test_reference);
    return th_finish();
}
