/* Text sources and partitions: JSON Lines (plain and gzip) with exact
 * string decoding, plain text with <|endoftext|> separators, and a clear
 * file:line error for each kind of bad input; iid / by_source / dirichlet
 * partitions are deterministic, use every document once and respect the
 * assignment. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "harness.h"
#include "io/common.h"
#include "io/partition.h"
#include "io/textsrc.h"

static const char *dir;

/* Reads all documents; returns count, or -1 with the error in err. */
static int read_all(const char *path, char *first, size_t fn, photon_err *err)
{
    textsrc *s = textsrc_open(path, err);
    if (!s) return -1;
    const char *t;
    size_t n;
    int rc, count = 0;
    while ((rc = textsrc_next(s, &t, &n, err)) == 1) {
        if (count == 0 && first) snprintf(first, fn, "%.*s", (int)n, t);
        count++;
    }
    textsrc_close(s);
    return rc < 0 ? -1 : count;
}

static void test_jsonl(void)
{
    photon_err err;
    char first[256];
    const char *p = th_write_file(dir, "ok.jsonl",
        "{\"id\": 1, \"meta\": {\"a\": [1, 2.5e3, null, true]}, \"text\": \"a\\u00e9\\ud83d\\ude42\\n\\\"q\\\"\\t\\/\"}\n"
        "\n"
        "{\"text\": \"\"}\n"
        "{\"text\": \"second\"}\r\n");
    CHECK_EQ_INT(read_all(p, first, sizeof first, &err), 2);   /* the empty text is skipped */
    CHECK_STR(first, "a\xc3\xa9\xf0\x9f\x99\x82\n\"q\"\t/");

    /* A UTF-8 byte-order mark at the start of the file is skipped. */
    p = th_write_file(dir, "bom.jsonl", "\xEF\xBB\xBF{\"text\": \"bom\"}\r\n{\"text\": \"x\"}\r\n");
    CHECK_EQ_INT(read_all(p, first, sizeof first, &err), 2);
    CHECK_STR(first, "bom");

    p = th_write_file(dir, "badjson.jsonl", "{\"text\": \"one\"}\n{\"text\": \"two\"\n");
    CHECK_EQ_INT(read_all(p, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "badjson.jsonl:2: invalid JSON at column 15");

    p = th_write_file(dir, "notext.jsonl", "{\"text\": \"one\"}\n{\"text\": \"two\"}\n{\"title\": \"x\"}\n");
    CHECK_EQ_INT(read_all(p, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "notext.jsonl:3: JSON object has no \"text\" member");

    p = th_write_file(dir, "num.jsonl", "{\"text\": 5}\n");
    CHECK_EQ_INT(read_all(p, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "num.jsonl:1: invalid JSON at column 10: member is not a string");

    p = th_write_file(dir, "utf8.jsonl", "{\"text\": \"fine\"}\n{\"text\": \"bad \xff byte\"}\n");
    CHECK_EQ_INT(read_all(p, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "utf8.jsonl:2: invalid UTF-8 at column 15");

    p = th_write_file(dir, "surr.jsonl", "{\"text\": \"lone \\ud800 x\"}\n");
    CHECK_EQ_INT(read_all(p, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "surr.jsonl:1: invalid JSON at column 16: high surrogate");

    p = th_write_file(dir, "array.jsonl", "[1, 2]\n");
    CHECK_EQ_INT(read_all(p, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "array.jsonl:1: invalid JSON at column 1: expected a JSON object");

    p = th_write_file(dir, "trail.jsonl", "{\"text\": \"a\"} x\n");
    CHECK_EQ_INT(read_all(p, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "trail.jsonl:1: invalid JSON at column 15: unexpected bytes after the JSON object");

    p = th_write_file(dir, "empty.jsonl", "");
    CHECK_EQ_INT(read_all(p, NULL, 0, &err), 0);

    CHECK(textsrc_open("/nonexistent/x.jsonl", &err) == NULL);
    CHECK_CONTAINS(err.msg, "/nonexistent/x.jsonl: cannot open");
}

static void test_gzip(void)
{
    photon_err err;
    char src[4096];
    snprintf(src, sizeof src, "%s/data/c4/c4-sample-validation.json.gz", th_source_dir());
    CHECK_MSG(read_all(src, NULL, 0, &err) == 100, "%s", err.msg);
    size_t n;
    char *gz = file_read_all(src, &n, &err);
    if (!gz) { CHECK(0); return; }
    /* flip bytes in the middle of the deflate stream */
    char *bad = xmalloc(n);
    memcpy(bad, gz, n);
    for (size_t i = n / 2; i < n / 2 + 64; i++) bad[i] ^= 0x5a;
    char p[4096];
    snprintf(p, sizeof p, "%s/corrupt.json.gz", dir);
    FILE *f = fopen(p, "wb");
    fwrite(bad, 1, n, f);
    fclose(f);
    CHECK_EQ_INT(read_all(p, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "corrupt.json.gz: corrupt or truncated gzip data near compressed byte offset");
    /* cut short */
    snprintf(p, sizeof p, "%s/short.json.gz", dir);
    f = fopen(p, "wb");
    fwrite(gz, 1, n / 3, f);
    fclose(f);
    CHECK_EQ_INT(read_all(p, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "short.json.gz:");
    free(bad);
    free(gz);
}

static void test_text(void)
{
    photon_err err;
    char first[256];
    const char *p = th_write_file(dir, "t.txt", "doc one<|endoftext|>\ndoc two\n<|endoftext|>\n\n<|endoftext|>last");
    CHECK_EQ_INT(read_all(p, first, sizeof first, &err), 3);
    CHECK_STR(first, "doc one");
    p = th_write_file(dir, "bom.txt", "\xEF\xBB\xBF" "first<|endoftext|>second");
    CHECK_EQ_INT(read_all(p, first, sizeof first, &err), 2);
    CHECK_STR(first, "first");
    p = th_write_file(dir, "bad.txt", "line 1\nline 2\nline \xc3\x28 3\n");
    CHECK_EQ_INT(read_all(p, NULL, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "bad.txt:3: invalid UTF-8 at byte offset 19");
    /* a gzip-compressed plain text file reads the same */
    char gp[4096];
    snprintf(gp, sizeof gp, "%s/t.txt.gz", dir);
    gzFile g = gzopen(gp, "wb");
    gzputs(g, "alpha<|endoftext|>beta");
    gzclose(g);
    CHECK_EQ_INT(read_all(gp, first, sizeof first, &err), 2);
    CHECK_STR(first, "alpha");
}

static void test_partition(void)
{
    photon_err err;
    const char *names[3] = { "wiki", "c4", "books" };
    int64_t nd[3] = { 100, 40, 10 };
    int32_t client[150], client2[150];
    int64_t order[150], order2[150], nused;
    partition_spec p = { PART_IID, 4, 7, 0.5, NULL };
    CHECK(partition_docs(&p, 3, names, nd, NULL, client, order, &nused, &err) == 0);
    CHECK_EQ_INT(nused, 150);
    int per[8] = { 0 }, seen[150] = { 0 };
    for (int i = 0; i < 150; i++) { per[client[order[i]]]++; seen[order[i]]++; }
    int once = 1;
    for (int i = 0; i < 150; i++) once &= seen[i] == 1;
    CHECK(once);
    CHECK(per[0] == 38 && per[1] == 38 && per[2] == 37 && per[3] == 37);
    CHECK(partition_docs(&p, 3, names, nd, NULL, client2, order2, &nused, &err) == 0);
    CHECK(memcmp(order, order2, sizeof order) == 0 && memcmp(client, client2, sizeof client) == 0);
    p.seed = 8;
    partition_docs(&p, 3, names, nd, NULL, client2, order2, &nused, &err);
    CHECK(memcmp(order, order2, sizeof order) != 0);
    /* token-balanced dealing: one huge document leaves its client fewer others */
    int64_t w[150];
    for (int i = 0; i < 150; i++) w[i] = i == 149 ? 1000 : 10;
    CHECK(partition_docs(&p, 3, names, nd, w, client, order, &nused, &err) == 0);
    int64_t load[4] = { 0 };
    int docs_of_big = 0;
    for (int i = 0; i < 150; i++) load[client[i]] += w[i];
    for (int i = 0; i < 150; i++) docs_of_big += client[i] == client[149];
    CHECK_MSG(docs_of_big < 10, "the client of the huge document holds %d documents", docs_of_big);
    int64_t lo = load[0], hi = load[0];
    for (int k = 1; k < 4; k++) { lo = load[k] < lo ? load[k] : lo; hi = load[k] > hi ? load[k] : hi; }
    CHECK_MSG(hi - lo <= 1000, "token loads %lld..%lld", (long long)lo, (long long)hi);

    const char *assign_items[] = { "wiki=0-1", "c4=2+3", "books=4" };
    cfg_list assign = { 3, assign_items };
    partition_spec q = { PART_BY_SOURCE, 5, 7, 0.5, &assign };
    CHECK(partition_docs(&q, 3, names, nd, NULL, client, order, &nused, &err) == 0);
    int ok = 1;
    for (int d = 0; d < 150; d++) {
        int s = d < 100 ? 0 : d < 140 ? 1 : 2;
        ok &= s == 0 ? (client[d] == 0 || client[d] == 1) : s == 1 ? (client[d] == 2 || client[d] == 3) : client[d] == 4;
    }
    CHECK(ok);
    /* a client that no source names gets nothing: an error */
    const char *gap_items[] = { "wiki=0-1", "c4=2" };
    cfg_list gap = { 2, gap_items };
    q.assign = &gap;
    q.nclients = 4;
    CHECK(partition_docs(&q, 3, names, nd, NULL, client, order, &nused, &err) < 0);
    CHECK_CONTAINS(err.msg, "client 3 gets no documents");
    /* no assign: sources and clients paired round robin */
    cfg_list none = { 0 };
    q.assign = &none;
    q.nclients = 6;
    CHECK(partition_docs(&q, 3, names, nd, NULL, client, order, &nused, &err) == 0);
    CHECK(client[0] == 0 || client[0] == 3);
    CHECK(client[149] == 2 || client[149] == 5);

    /* dirichlet: all documents once, balanced counts; small alpha -> skewed mixtures */
    int64_t big[3] = { 3000, 3000, 3000 };
    int32_t *cl = xmalloc(9000 * sizeof *cl);
    int64_t *ord = xmalloc(9000 * sizeof *ord);
    double skew[2];
    for (int a = 0; a < 2; a++) {
        partition_spec r = { PART_DIRICHLET, 4, 3, a ? 100.0 : 0.05, NULL };
        CHECK(partition_docs(&r, 3, names, big, NULL, cl, ord, &nused, &err) == 0);
        CHECK_EQ_INT(nused, 9000);
        int64_t mix[4][3] = { { 0 } }, cnt[4] = { 0 };
        char *used = xcalloc(9000, 1);
        int dup = 0;
        for (int i = 0; i < 9000; i++) { dup += used[ord[i]]++; mix[cl[ord[i]]][ord[i] / 3000]++; cnt[cl[ord[i]]]++; }
        CHECK(dup == 0);
        CHECK(cnt[0] == 2250 && cnt[3] == 2250);
        /* mean over clients of the largest source share, on the first half of the slots
         * (before sources run out): near 1 for alpha 0.05, near 1/3 for alpha 100 */
        int64_t early[4][3] = { { 0 } };
        for (int i = 0; i < 3000; i++) early[cl[ord[i]]][ord[i] / 3000]++;
        double s = 0;
        for (int k = 0; k < 4; k++) {
            int64_t mx = 0, tot = 0;
            for (int j = 0; j < 3; j++) { tot += early[k][j]; if (early[k][j] > mx) mx = early[k][j]; }
            s += (double)mx / (double)tot;
        }
        skew[a] = s / 4;
        free(used);
    }
    CHECK_MSG(skew[0] > 0.8 && skew[1] < 0.45, "dirichlet skew: alpha 0.05 -> %.2f, alpha 100 -> %.2f", skew[0], skew[1]);
    free(cl);
    free(ord);
}

int main(void)
{
    dir = th_tmpdir();
    RUN(test_jsonl);
    RUN(test_gzip);
    RUN(test_text);
    RUN(test_partition);
    return th_finish();
}
