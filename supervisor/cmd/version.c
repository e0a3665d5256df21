/* --version: photon-sim's version and the versions of the libraries it runs
 * with (queried at run time, so a mismatched shared library shows up). */
#include "supervisor/cmd/version.h"
#include <event2/event.h>
#include <hdf5.h>
#include <zlib.h>
#include <zstd.h>
#include <oniguruma.h>
#include <utf8proc.h>
#include <cblas.h>
#include <string.h>
#include "gpu/model.h"

#ifdef PHOTON_HAVE_CUDA
void cuda_version_string(char *buf, size_t n);   /* gpu/cuda/cuda_version.c */
#endif

void version_print(FILE *f)
{
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    fprintf(f, "photon-sim %s\n", PHOTON_VERSION);
    fprintf(f, "  libevent %s\n", event_get_version());
    fprintf(f, "  HDF5 %u.%u.%u\n", maj, min, rel);
    fprintf(f, "  zlib %s\n", zlibVersion());
    fprintf(f, "  zstd %s\n", ZSTD_versionString());
    fprintf(f, "  Oniguruma %s, utf8proc %s (Unicode %s)\n", onig_version(), utf8proc_version(), utf8proc_unicode_version());
    const char *ob = openblas_get_config();
    if (strncmp(ob, "OpenBLAS ", 9) == 0) ob += 9;   /* the config string names itself */
    fprintf(f, "  OpenBLAS %s\n", ob);
    cpu_blas_setup();
    fprintf(f, "  CPU build: %s, OpenBLAS kernels %s\n", cpu_build_kind(), cpu_blas_kernels());
#ifdef PHOTON_HAVE_CUDA
    char buf[256];
    cuda_version_string(buf, sizeof buf);
    fprintf(f, "  %s\n", buf);
#else
    fprintf(f, "  CUDA backend: not built in\n");
#endif
}
