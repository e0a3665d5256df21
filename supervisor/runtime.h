/* The federated runtime's entry point: cmd_run parses the command line and
 * the experiment file, then hands the resolved configuration to it. */
#ifndef PHOTON_RUNTIME_H
#define PHOTON_RUNTIME_H
#include "io/config.h"

/* Runs the experiment (federated or centralized) to the end; resume = 1
 * continues from the newest valid checkpoint of the run.  Returns the
 * process exit status (io/common.h). */
int runtime_main(const photon_config *cfg, int resume);
#endif
