/* The process layer shared by the supervisor and the actors (in the spirit
 * of tmux's proc.c): a libevent loop with signal events, peers that exchange
 * typed, versioned, length-prefixed messages over a socket, and a fork
 * helper that gives the child a clean slate (no inherited loop fds, default
 * signal dispositions, death when the parent dies).
 *
 * Wire frame (little-endian, same machine or same architecture):
 *   uint32 magic 'PHSM' | uint16 version | uint16 type | uint32 length | payload
 * A frame with a bad magic, version or an oversized length closes the peer
 * with a logged reason; it is never guessed at.
 *
 * A peer is a plain socket (a local actor's socketpair) or a TLS session
 * (remote actors, io/link_tls.h) through libevent's OpenSSL bufferevents:
 * the same frames then travel inside TLS records. */
#ifndef PHOTON_PROC_H
#define PHOTON_PROC_H
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include "io/common.h"

#define PROC_MAGIC 0x4d534850u   /* "PHSM" */
#define PROC_VERSION 1
#define PROC_MAX_PAYLOAD (1u << 20)

typedef struct proc_loop proc_loop;
typedef struct proc_peer proc_peer;

/* Called once per reaped child (status as from waitpid). */
typedef void (*proc_child_cb)(pid_t pid, int status, void *arg);
typedef void (*proc_signal_cb)(int sig, void *arg);
/* A complete message arrived; payload is valid only during the call. */
typedef void (*proc_msg_cb)(proc_peer *p, uint16_t type, const void *payload, uint32_t len, void *arg);
/* The peer is gone (EOF, error or bad frame); reason says which.  The peer
 * stays allocated until proc_peer_free. */
typedef void (*proc_close_cb)(proc_peer *p, const char *reason, void *arg);
/* A TLS peer's handshake completed (frames may flow now). */
typedef void (*proc_open_cb)(proc_peer *p, void *arg);
struct ssl_st;

proc_loop *proc_loop_new(photon_err *err);
void proc_loop_free(proc_loop *l);
struct event_base *proc_loop_base(proc_loop *l);
/* Runs until proc_loop_exit or nothing is left to wait for. */
int proc_loop_run(proc_loop *l);
void proc_loop_exit(proc_loop *l);
/* Routes a signal through the loop (SIGINT, SIGTERM, ...). */
int proc_loop_on_signal(proc_loop *l, int sig, proc_signal_cb cb, void *arg);
/* SIGCHLD only wakes the loop; children are reaped with waitpid(-1, WNOHANG)
 * in a loop and each is reported to cb. */
int proc_loop_on_child(proc_loop *l, proc_child_cb cb, void *arg);
/* Reaps whatever has exited now (also used at shutdown). */
void proc_loop_reap(proc_loop *l);
/* One-shot timer; returns an opaque handle freed with proc_timer_cancel,
 * or freed automatically after it fires. */
typedef struct proc_timer proc_timer;
proc_timer *proc_timer_add(proc_loop *l, double seconds, void (*cb)(void *arg), void *arg);
void proc_timer_cancel(proc_timer *t);

/* Wraps a connected stream socket (takes ownership of fd). */
proc_peer *proc_peer_new(proc_loop *l, int fd, const char *name, proc_msg_cb on_msg,
                         proc_close_cb on_close, void *arg);
/* Wraps a connected TCP socket in TLS (takes ownership of fd and ssl):
 * accepting = 1 on the server side.  on_open fires when the handshake
 * completes; a failed handshake calls on_close with OpenSSL's reason.
 * NULL if libevent cannot set it up (fd and ssl are freed then). */
proc_peer *proc_peer_new_tls(proc_loop *l, int fd, struct ssl_st *ssl, int accepting, const char *name,
                             proc_open_cb on_open, proc_msg_cb on_msg, proc_close_cb on_close, void *arg);
/* Whether a TLS peer's handshake has completed; its session. */
int proc_peer_open(const proc_peer *p);
/* Whether a TLS peer ended with an error of the TLS layer (an alert, a
 * record that failed authentication, a refused handshake) rather than a
 * plain close or a socket error. */
int proc_peer_tls_error(const proc_peer *p);
/* That TLS error's OpenSSL code (ERR_get_error's), 0 if none. */
unsigned long proc_peer_tls_code(const proc_peer *p);
struct ssl_st *proc_peer_ssl(const proc_peer *p);
/* A frame that has started to arrive must be complete within this many
 * seconds, or the peer is closed (a peer trickling bytes holds no frame
 * open forever); 0 = no deadline (the default). */
void proc_peer_set_frame_deadline(proc_peer *p, double seconds);
/* Checks a frame header (PROC_FRAME_BYTES bytes): 0 and its type and
 * payload length, or -1 with why (bad magic, version, length over limit). */
#define PROC_FRAME_BYTES 12
int proc_frame_check(const void *hdr, uint32_t limit, uint16_t *type, uint32_t *len, char *why, size_t n);
/* Rebinds the callbacks (a TCP connection is handed from the listener to
 * the pool once it has authenticated). */
void proc_peer_set_callbacks(proc_peer *p, proc_msg_cb on_msg, proc_close_cb on_close, void *arg);
/* Lowers (or restores) the largest payload accepted from this peer, e.g.
 * before it has authenticated; never above PROC_MAX_PAYLOAD. */
void proc_peer_set_limit(proc_peer *p, uint32_t max_payload);
/* Queues one message; -1 if the peer is closed or the payload too big. */
int proc_peer_send(proc_peer *p, uint16_t type, const void *payload, uint32_t len);
/* Blocks until the output buffer is written (used right before exiting;
 * a TLS peer only while the loop is not running). */
void proc_peer_flush(proc_peer *p);
int proc_peer_closed(const proc_peer *p);
/* Reads what a plain socket peer has left to say now, without waiting,
 * and delivers its complete frames; at EOF the peer is closed (on_close).
 * For a child that has just been reaped: the kernel closed its end before
 * SIGCHLD, so whatever it sent before dying is in the socket and would
 * otherwise be read only after the death was handled.  Reads at most a few
 * megabytes (the end of a peer that is still writing is not waited for). */
void proc_peer_drain(proc_peer *p);
const char *proc_peer_name(const proc_peer *p);
void proc_peer_free(proc_peer *p);

/* Forks a child connected by a socketpair.  In the parent returns the pid
 * and sets *fd to the parent's end.  In the child returns 0 and sets *fd to
 * the child's end; every other fd above 2 is closed, signals are reset to
 * their defaults (SIGINT ignored: the supervisor decides when actors stop),
 * and the child gets SIGKILL if the parent dies.  -1 with err on failure. */
pid_t proc_fork(int *fd, photon_err *err);

/* Like proc_fork, then the child executes exe with argv (its end of the
 * socketpair is fd 3).  Actors are exec'd rather than only forked: the
 * supervisor has used OpenMP by the time it restarts one, and libgomp's
 * thread pool does not survive fork (the child would hang). */
pid_t proc_spawn(const char *exe, char *const argv[], int *fd, photon_err *err);

/* Short name of a signal ("KILL", "SEGV"), and a one-line description of a
 * wait status ("exit 3", "signal SEGV"). */
const char *proc_signal_name(int sig);
void proc_status_str(int status, char *out, size_t n);
#endif
