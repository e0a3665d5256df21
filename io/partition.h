/* Dealing documents to clients (DESIGN §4 [data] partition):
 *  iid        all documents shuffled with the seed, each in turn dealt to the
 *             client holding the fewest tokens so far (lowest id on ties:
 *             round robin when documents are alike);
 *  by_source  each source's documents (shuffled) dealt the same way over the
 *             clients that `assign` names for it ("wiki=0-1", "c4=2+3");
 *             with no assign, sources and clients are paired round robin;
 *  dirichlet  each client draws a source mixture p_k ~ Dir(alpha); document
 *             slots are dealt round robin and each slot takes the next
 *             document of a source drawn from p_k (renormalised over the
 *             sources not yet used up), so clients get similar numbers of
 *             documents with very different mixtures when alpha is small.
 * Everything is a pure function of the seed: same inputs, same partition. */
#ifndef PHOTON_PARTITION_H
#define PHOTON_PARTITION_H
#include <stdint.h>
#include "io/config.h"

typedef struct {
    int kind;                 /* enum cfg_partition */
    int nclients;
    uint64_t seed;
    double alpha;
    const cfg_list *assign;   /* by_source only; may be empty */
} partition_spec;

/* Documents are numbered source by source: source s owns ndocs[s] of them;
 * doc_tokens[d] is document d's size in tokens (NULL: all count 1).
 * Fills order[0..*nused) with the documents that are used, in the order
 * they go into their client's shard, and client[d] with each document's
 * client (-1 when no client takes it).  names[s] is the source's name. */
int partition_docs(const partition_spec *p, int nsources, const char *const *names, const int64_t *ndocs,
                   const int64_t *doc_tokens, int32_t *client, int64_t *order, int64_t *nused, photon_err *err);

/* Name of a [data] sources item: "name=path" gives name, a bare path its
 * file name up to the first dot (the one rule config validation and
 * prepare share). */
void partition_source_name(const char *item, char *out, size_t n);
/* Path part of a sources item. */
const char *partition_source_path(const char *item);
#endif
