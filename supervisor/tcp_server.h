/* The supervisor's TCP listener for remote actors (link = tcp): accepts
 * connections with libevent's evconnlistener, runs the TLS handshake that
 * authenticates each one (the run key, or certificates: io/link_tls.h),
 * and hands the ones that pass to the actor pool. */
#ifndef PHOTON_TCP_SERVER_H
#define PHOTON_TCP_SERVER_H
#include <stddef.h>
#include "io/proc.h"
#include "supervisor/actor_pool.h"

typedef struct tcp_server tcp_server;

/* Listens on listen_addr ("host:port", port 0 = any free one), logs the
 * bound address and writes it as "host:port\n" to addr_file.  tls is the
 * server context (link_tls_server or link_tls_server_cert); the server
 * owns it from now on, also when it fails.  NULL with err (e.g. the
 * address is in use). */
struct link_tls;
tcp_server *tcp_server_start(proc_loop *loop, const char *listen_addr, struct link_tls *tls, actor_pool *pool,
                             const char *addr_file, photon_err *err);
/* Stops listening, closes pending connections, removes the address file. */
void tcp_server_free(tcp_server *s);
#endif
