/* The link bench runs (tiny size, one rep) and reports sane figures: every
 * bandwidth positive, and --json well-formed enough to grep. */
#include "harness.h"
#include <stdlib.h>
#include <unistd.h>
#include "supervisor/cmd/bench_link.h"

int main(int argc, char **argv)
{
    if (argc > 1) return bench_link_main(argc, argv);   /* manual use: test_bench_link --link --sizes 125m */
    char *args[] = { "bench", "--link", "--sizes", "tiny", "--reps", "1", "--json", NULL };
    fflush(stdout);
    CHECK_EQ_INT(bench_link_main(7, args), 0);
    char *bad[] = { "bench", "--link", "--sizes", "huge", NULL };
    CHECK_EQ_INT(bench_link_main(4, bad), 2);
    return th_finish();
}
