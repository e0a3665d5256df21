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
 * binder does not already allow to test (so: use a random key).
 *
 * Certificates instead of the run key ([aggregator] tls_ca / tls_cert /
 * tls_key, `actor --ca --cert --key`): a plain TLS 1.3 handshake with
 * mutual X.509 authentication.  The supervisor shows its certificate,
 * which the actor checks against its CA file and against the host name or
 * address it connected to; the actor must show a certificate that chains
 * to the supervisor's CA file (any such certificate is an actor: use a CA
 * of your own for the run).  No pre-shared key is offered or accepted
 * then, so a key-mode end and a certificate-mode end never agree. */
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
/* The certificate mode: PEM files (cert may hold the chain); peer_host is
 * what an actor connected to (a DNS name or an IP address, checked against
 * the supervisor's certificate), NULL for the supervisor.  Errors name the
 * file and what is wrong with it. */
link_tls *link_tls_server_cert(const char *ca, const char *cert, const char *key, photon_err *err);
link_tls *link_tls_client_cert(const char *ca, const char *cert, const char *key, const char *peer_host,
                               photon_err *err);
/* Whether t authenticates with certificates. */
int link_tls_certs(const link_tls *t);
/* After a failed handshake: why, when the certificate check explains it
 * ("the supervisor's certificate does not verify against the CA in FILE:
 * ..."), else NULL.  t is the context the session came from. */
const char *link_tls_cert_failure(const link_tls *t, struct ssl_st *ssl, char *buf, size_t n);
/* Whether an OpenSSL error code is the peer's alert refusing our
 * certificate (unknown CA, bad / unknown / expired / revoked certificate,
 * certificate required, access denied).  In TLS 1.3 a client's handshake
 * is complete before the server has checked its certificate, so that
 * refusal arrives as an alert on an open session. */
int link_tls_cert_refused(unsigned long code);
void link_tls_free(link_tls *t);
/* A new connection's SSL object (owned by the caller, or by the
 * bufferevent it is given to). */
struct ssl_st *link_tls_ssl(link_tls *t);

/* After a handshake completed: 0 when the peer proved the run key (the
 * connection used our PSK) or, in the certificate mode, showed a
 * certificate that verified; -1 with why otherwise. */
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
