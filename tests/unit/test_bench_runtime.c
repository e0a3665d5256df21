/* The runtime-cost bench runs and reports (a quick tiny-size smoke test);
 * with arguments it is the bench itself:
 *   tests/test_bench_runtime --sizes tiny,125m --reps 3 */
#include "harness.h"
#include "supervisor/cmd/bench_runtime.h"

int main(int argc, char **argv)
{
    if (argc > 1) return bench_runtime_main(argc, argv);
    char *a1[] = { "bench", "--runtime", "--sizes", "tiny", "--reps", "1", "--json", NULL };
    CHECK_EQ_INT(bench_runtime_main(7, a1), 0);
    char *a2[] = { "bench", "--sizes", "huge", NULL };
    CHECK_EQ_INT(bench_runtime_main(3, a2), 2);
    char *a3[] = { "bench", "--clients", "x", NULL };
    CHECK_EQ_INT(bench_runtime_main(3, a3), 2);
    char *a4[] = { "bench", "--params", "1000", "--clients", "3", "--reps", "1", NULL };
    CHECK_EQ_INT(bench_runtime_main(7, a4), 0);
    char *a5[] = { "bench", "--runtime", "--quant", "--sizes", "tiny", "--reps", "1", "--threads", "1", NULL };
    CHECK_EQ_INT(bench_runtime_main(9, a5), 0);
    char *a6[] = { "bench", "--runtime", "--quant", "--link-mbps", "0", NULL };
    CHECK_EQ_INT(bench_runtime_main(5, a6), 2);
    char *a7[] = { "bench", "--quant", "--sizes", "huge", NULL };
    CHECK_EQ_INT(bench_runtime_main(4, a7), 2);
    return th_finish();
}
