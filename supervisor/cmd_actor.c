/* `photon-sim actor`: an actor process.  `--fd N` is how the supervisor
 * starts its local actors (the control socket is fd N; everything else
 * arrives in the setup message).  `--connect HOST:PORT` (remote actors over
 * TCP) needs the TCP link, which is not built yet. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "supervisor/cli.h"
#include "actors/actor.h"
#include "io/common.h"

int cmd_actor(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
            char *end;
            long fd = strtol(argv[i + 1], &end, 10);
            if (*end || fd < 0 || fd > 1024) {
                fprintf(stderr, "photon-sim: error: actor --fd: '%s' is not a file descriptor\n", argv[i + 1]);
                return PHOTON_EXIT_USAGE;
            }
            int rc = actor_main((int)fd);
            /* Everything is released; skip exit-time destructors (BLAS and
             * OpenMP thread pools), which on a loaded machine were seen to
             * outlast the supervisor's stop grace period. */
            fflush(NULL);
            _exit(rc);
        }
        if (strcmp(argv[i], "--connect") == 0)
            return cli_not_built("actor --connect", "the TCP link for remote actors");
    }
    fprintf(stderr, "photon-sim: error: actor: expected --connect HOST:PORT --key-file FILE\n");
    return PHOTON_EXIT_USAGE;
}
