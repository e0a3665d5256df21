/* The supervisor's TCP listener for remote actors (link = tcp): accepts
 * connections with libevent's evconnlistener, challenges each one to prove
 * it holds the run key (HMAC-SHA256 over a random nonce and the protocol
 * version), and hands the ones that pass to the actor pool. */
#ifndef PHOTON_TCP_SERVER_H
#define PHOTON_TCP_SERVER_H
#include <stddef.h>
#include "io/proc.h"
#include "supervisor/actor_pool.h"

typedef struct tcp_server tcp_server;

/* Listens on listen_addr ("host:port", port 0 = any free one), logs the
 * bound address and writes it as "host:port\n" to addr_file.  The key is
 * copied.  NULL with err (e.g. the address is in use). */
tcp_server *tcp_server_start(proc_loop *loop, const char *listen_addr, const unsigned char *key, size_t keylen,
                             actor_pool *pool, const char *addr_file, photon_err *err);
/* Stops listening, closes pending connections, removes the address file. */
void tcp_server_free(tcp_server *s);
#endif
