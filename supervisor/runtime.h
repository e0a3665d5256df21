/* Entry point of the federated runtime (DESIGN §2): cmd_run loads and
 * validates the experiment, then hands it over here. */
#ifndef PHOTON_RUNTIME_H
#define PHOTON_RUNTIME_H
#include "io/config.h"
/* Runs the experiment (resume: continue from the newest valid checkpoint).
 * Returns the process exit status (0, 1, or 2 for configuration errors). */
int runtime_main(const photon_config *cfg, int resume);
#endif
