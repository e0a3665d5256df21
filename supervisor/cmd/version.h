/* --version: photon-sim's version and those of the libraries it was built with. */
#ifndef PHOTON_VERSION_H
#define PHOTON_VERSION_H
#include <stdio.h>
void version_print(FILE *f);
#endif
