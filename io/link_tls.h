/* The TCP link's security layer: TLS 1.3 (OpenSSL libssl) whose only
 * credential is the run key.  Both ends derive the same external pre-shared
 * key from it (HKDF-SHA256), so a handshake completes only between two
 * holders of the key: the actor proves it with the PSK binder, the
 * supervisor with its Finished message, and the (EC)DHE share the PSK is
 * combined with gives forward secrecy.  Every record after that is
 * encrypted and authenticated (AES-128-GCM or ChaCha20-Poly1305) under
 * per-direction keys with implicit sequence numbers, which rejects a
 * flipped, replayed, reordered or dropped record.  docs/RUNTIME.md,
 * "Remote actors", has the threat model.
 *
 * The PSK identity is "photon-sim <protocol version> <key id>" (key id: 16
 * hex digits of HKDF(key)); it lets the supervisor say "wrong key" or
 * "another version" instead of a bare handshake failure.  The key id is a
 * one-way function of the key; it reveals nothing a recorded handshake's
 * binder does not already allow to test (so: use a random key). */
#ifndef PHOTON_LINK_TLS_H
#define PHOTON_LINK_TLS_H
#include <stddef.h>
#include <stdint.h>
#include "io/common.h"

struct ssl_st;
typedef struct link_tls link_tls;

#define LINK_TLS_PSK_BYTES 32
#define LINK_TLS_KEY_ID_HEX 16

/* A context for one role: the supervisor accepts, an actor connects.
 * version is bound into the identity (TCP_PROTOCOL_VERSION). */
link_tls *link_tls_server(const unsigned char *key, size_t keylen, uint32_t version, photon_err *err);
link_tls *link_tls_client(const unsigned char *key, size_t keylen, uint32_t version, photon_err *err);
void link_tls_free(link_tls *t);
/* A new connection's SSL object (owned by the caller, or by the
 * bufferevent it is given to). */
struct ssl_st *link_tls_ssl(link_tls *t);

/* After a handshake completed: 0 when the peer proved the run key (the
 * connection used our PSK); -1 with why otherwise. */
int link_tls_verify(struct ssl_st *ssl, photon_err *err);
/* Why the supervisor refused a client's identity during the handshake
 * ("wrong key ...", "another ... version"); "" when the client offered the
 * run's identity; NULL when it offered no pre-shared key at all. */
const char *link_tls_refusal(struct ssl_st *ssl);
/* The most recent OpenSSL error on this thread as text ("" if none);
 * clears the queue. */
void link_tls_last_error(char *out, size_t n);

/* The derivations (exposed for tests): PSK = HKDF-SHA256(key, salt
 * "photon-sim run key", info "photon-sim tls13 psk"), key id = the first 8
 * bytes of HKDF(key, same salt, info "photon-sim key id") in hex. */
int link_tls_derive(const unsigned char *key, size_t keylen, const char *info, unsigned char *out, size_t n);
void link_tls_key_id(const unsigned char *key, size_t keylen, char out[LINK_TLS_KEY_ID_HEX + 1]);
#endif
