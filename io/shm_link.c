/* The shared-memory link (io/link.h): one POSIX shm segment per blob, named
 * /photon-<run-id>-<what>, each starting with a 64-byte header (magic,
 * version, kind, generation, length, capacity, checksum).  The run id starts
 * with the supervisor's pid, so a later run can tell segments of dead runs
 * (removed at start) from those of live ones (left alone). */
#include "io/link.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <omp.h>

#define SHM_MAGIC 0x314b4e4c4d485350ULL   /* "PSHMLNK1" */
#define SHM_VERSION 1
#define SHM_HEADER 64

typedef struct {
    uint64_t magic;
    uint32_t version, kind;
    _Atomic uint64_t generation;   /* written last: a reader never sees a half-made blob as current */
    uint64_t length, capacity, checksum;
    uint32_t encoding;             /* LINK_ENC_RAW or a gpu/quant.h kind */
    uint32_t pad;
} shm_header;
_Static_assert(sizeof(shm_header) <= SHM_HEADER, "header fits");

typedef struct {
    char name[96];
    uint8_t *map;      /* header + payload */
    size_t map_bytes;
} shm_seg;

typedef struct {
    photon_link base;
    char run_id[48];
    int owner;         /* 1 in the supervisor: it unlinks on close */
    pid_t owner_pid;
    int nseg;
    shm_seg *seg;      /* model, updates..., states... */
    size_t footprint;
} shm_link;

/* Every owning link, for the exit-path cleanup. */
#define MAX_OWNED 4
static shm_link *owned[MAX_OWNED];
static int atexit_done;

/* Fletcher-style sums over 8 lanes of 32-bit words (a = Σw, b = Σa per
 * lane, mod 2^64): plain adds that the compiler vectorizes, so a checksum
 * runs at memory speed rather than at a multiply chain's.  Any single
 * flipped bit changes a; swapped words change b. */
static uint64_t chunk_sum(const uint8_t *p, size_t n)
{
    uint64_t a[8] = { 0 }, b[8] = { 0 };
    size_t blocks = n / 32;
    for (size_t i = 0; i < blocks; i++) {
        uint32_t w[8];
        memcpy(w, p + 32 * i, 32);
        for (int k = 0; k < 8; k++) { a[k] += w[k]; b[k] += a[k]; }
    }
    uint64_t h = hash64(p + 32 * blocks, n - 32 * blocks, HASH64_INIT ^ n);
    h = hash64(a, sizeof a, h);
    return hash64(b, sizeof b, h);
}

/* The payload checksum: chunk_sum of fixed 4 MiB chunks, in parallel,
 * combined in chunk order, so its value does not depend on the thread
 * count. */
#define SUM_CHUNK ((size_t)4 << 20)
uint64_t link_checksum(const void *buf, size_t n)
{
    const uint8_t *p = buf;
    size_t chunks = (n + SUM_CHUNK - 1) / SUM_CHUNK;
    if (chunks <= 1) return chunk_sum(p, n);
    uint64_t *part = xmalloc(chunks * sizeof(uint64_t));
    #pragma omp parallel for schedule(static)
    for (size_t c = 0; c < chunks; c++) {
        size_t lo = c * SUM_CHUNK, len = lo + SUM_CHUNK < n ? SUM_CHUNK : n - lo;
        part[c] = chunk_sum(p + lo, len);
    }
    uint64_t h = hash64(part, chunks * sizeof(uint64_t), HASH64_INIT ^ n);
    free(part);
    return h;
}

void link_shm_run_id(char *out, size_t n)
{
    uint64_t s = (uint64_t)time_wall() * 1000003u ^ (uint64_t)getpid() << 20;
    snprintf(out, n, "%d-%06llx", (int)getpid(), (unsigned long long)(splitmix64(&s) & 0xffffff));
}

/* Segments: the model's parts, then the update slots, then the states. */
static int seg_index(const shm_link *s, link_kind k, int idx)
{
    const link_plan *p = &s->base.plan;
    int parts = link_model_parts(p);
    switch (k) {
    case LINK_MODEL: return idx >= 0 && idx < parts ? idx : -1;
    case LINK_UPDATE: return idx >= 0 && idx < p->update_slots ? parts + idx : -1;
    case LINK_STATE: return idx >= 0 && idx < p->state_slots ? parts + p->update_slots + idx : -1;
    }
    return -1;
}

static shm_seg *get_seg(shm_link *s, link_kind k, int idx, photon_err *err)
{
    int i = seg_index(s, k, idx);
    if (i < 0) { err_set(err, "shm link: no blob kind %d index %d in this run", (int)k, idx); return NULL; }
    return &s->seg[i];
}

static void *shm_write_begin(photon_link *l, link_kind k, int idx, size_t bytes, photon_err *err)
{
    shm_seg *g = get_seg((shm_link *)l, k, idx, err);
    if (!g) return NULL;
    shm_header *h = (shm_header *)g->map;
    if (bytes > h->capacity) {
        err_set(err, "shm link: %s holds %llu bytes, %zu asked", g->name, (unsigned long long)h->capacity, bytes);
        return NULL;
    }
    /* Invalidate first: a crash mid-write leaves no blob that looks current. */
    atomic_store_explicit(&h->generation, LINK_ANY, memory_order_release);
    return g->map + SHM_HEADER;
}

static int shm_write_end(photon_link *l, link_kind k, int idx, uint64_t gen, size_t bytes, uint32_t enc,
                         photon_err *err)
{
    shm_seg *g = get_seg((shm_link *)l, k, idx, err);
    if (!g) return -1;
    shm_header *h = (shm_header *)g->map;
    if (bytes > h->capacity) { err_set(err, "shm link: %s overflow", g->name); return -1; }
    h->length = bytes;
    h->encoding = enc;
    h->checksum = link_checksum(g->map + SHM_HEADER, bytes);
    atomic_store_explicit(&h->generation, gen, memory_order_release);
    return 0;
}

static const void *shm_read(photon_link *l, link_kind k, int idx, uint64_t gen, size_t *bytes,
                            uint64_t *gen_out, uint32_t *enc_out, photon_err *err)
{
    shm_seg *g = get_seg((shm_link *)l, k, idx, err);
    if (!g) return NULL;
    shm_header *h = (shm_header *)g->map;
    uint64_t have = atomic_load_explicit(&h->generation, memory_order_acquire);
    if (h->magic != SHM_MAGIC || h->version != SHM_VERSION) {
        err_set(err, "shm link: %s has a bad header (magic/version)", g->name);
        return NULL;
    }
    if (have == LINK_ANY || (gen != LINK_ANY && have != gen)) {
        err_set(err, "shm link: %s holds generation %lld, expected %lld", g->name,
                have == LINK_ANY ? -1LL : (long long)have, (long long)gen);
        return NULL;
    }
    if (h->length > h->capacity) { err_set(err, "shm link: %s length %llu over capacity", g->name, (unsigned long long)h->length); return NULL; }
    uint64_t sum = link_checksum(g->map + SHM_HEADER, h->length);
    if (sum != h->checksum) {
        err_set(err, "shm link: %s checksum mismatch (payload %016llx, header %016llx)", g->name,
                (unsigned long long)sum, (unsigned long long)h->checksum);
        return NULL;
    }
    if (!enc_out && h->encoding != LINK_ENC_RAW) {
        err_set(err, "shm link: %s holds an encoded blob (encoding %u), not the raw one expected", g->name, h->encoding);
        return NULL;
    }
    if (bytes) *bytes = h->length;
    if (gen_out) *gen_out = have;
    if (enc_out) *enc_out = h->encoding;
    return g->map + SHM_HEADER;
}

void link_shm_unlink_all(photon_link *l)
{
    shm_link *s = (shm_link *)l;
    if (!s || !s->owner || s->owner_pid != getpid()) return;
    for (int i = 0; i < s->nseg; i++)
        if (s->seg[i].name[0]) shm_unlink(s->seg[i].name);
}

static void unlink_owned_at_exit(void)
{
    for (int i = 0; i < MAX_OWNED; i++)
        if (owned[i]) link_shm_unlink_all(&owned[i]->base);
}

static void shm_close(photon_link *l)
{
    shm_link *s = (shm_link *)l;
    link_shm_unlink_all(l);
    for (int i = 0; i < MAX_OWNED; i++) if (owned[i] == s) owned[i] = NULL;
    for (int i = 0; i < s->nseg; i++)
        if (s->seg[i].map) munmap(s->seg[i].map, s->seg[i].map_bytes);
    free(s->seg);
    free(s);
}

static size_t shm_footprint(const photon_link *l) { return ((const shm_link *)l)->footprint; }

static const link_ops shm_ops = {
    .name = "shm", .write_begin = shm_write_begin, .write_end = shm_write_end,
    .read = shm_read, .close = shm_close, .footprint = shm_footprint,
};

static size_t seg_bytes(size_t payload)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (SHM_HEADER + payload + page - 1) / page * page;
}

static shm_link *plan_segments(const char *run_id, const link_plan *plan, int owner)
{
    shm_link *s = xcalloc(1, sizeof *s);
    s->base.ops = &shm_ops;
    s->base.plan = *plan;
    snprintf(s->run_id, sizeof s->run_id, "%s", run_id);
    s->owner = owner;
    s->owner_pid = getpid();
    int parts = link_model_parts(plan);
    s->nseg = parts + plan->update_slots + plan->state_slots;
    s->seg = xcalloc((size_t)s->nseg, sizeof *s->seg);
    for (int i = 0; i < s->nseg; i++) {
        shm_seg *g = &s->seg[i];
        size_t payload;
        if (i < parts) {
            if (parts == 1) snprintf(g->name, sizeof g->name, "/photon-%s-model", run_id);
            else snprintf(g->name, sizeof g->name, "/photon-%s-model-%d", run_id, i);
            payload = link_model_part_bytes(plan, i);
        }
        else if (i < parts + plan->update_slots) { snprintf(g->name, sizeof g->name, "/photon-%s-update-%d", run_id, i - parts); payload = plan->update_bytes; }
        else { snprintf(g->name, sizeof g->name, "/photon-%s-state-%d", run_id, i - parts - plan->update_slots); payload = plan->state_bytes; }
        g->map_bytes = seg_bytes(payload);
        s->footprint += g->map_bytes;
    }
    return s;
}

static int map_seg(shm_seg *g, int create, size_t payload, int kind, photon_err *err)
{
    int fd = create ? shm_open(g->name, O_RDWR | O_CREAT | O_EXCL, 0600) : shm_open(g->name, O_RDWR, 0);
    if (fd < 0) { err_set(err, "shm_open %s: %s", g->name, strerror(errno)); return -1; }
    if (create) {
        /* fallocate reserves the pages now, so a full /dev/shm is an error
         * here rather than a SIGBUS in the middle of a round. */
        int rc = posix_fallocate(fd, 0, (off_t)g->map_bytes);
        if (rc != 0) {
            err_set(err, "cannot reserve %zu bytes for %s in /dev/shm: %s", g->map_bytes, g->name, strerror(rc));
            close(fd); shm_unlink(g->name); return -1;
        }
    } else {
        struct stat st;
        if (fstat(fd, &st) < 0 || (size_t)st.st_size < g->map_bytes) {
            err_set(err, "shm segment %s is smaller than the run needs", g->name);
            close(fd); return -1;
        }
    }
    g->map = mmap(NULL, g->map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (g->map == MAP_FAILED) {
        g->map = NULL;
        err_set(err, "mmap %s: %s", g->name, strerror(errno));
        if (create) shm_unlink(g->name);   /* the caller leaves this one to us */
        return -1;
    }
    if (create) {
        shm_header *h = (shm_header *)g->map;
        h->magic = SHM_MAGIC;
        h->version = SHM_VERSION;
        h->kind = (uint32_t)kind;
        h->capacity = payload;
        h->length = 0;
        atomic_store(&h->generation, LINK_ANY);
    }
    return 0;
}

static int seg_kind(const link_plan *p, int i, size_t *payload)
{
    int parts = link_model_parts(p);
    if (i < parts) { *payload = link_model_part_bytes(p, i); return LINK_MODEL; }
    if (i < parts + p->update_slots) { *payload = p->update_bytes; return LINK_UPDATE; }
    *payload = p->state_bytes;
    return LINK_STATE;
}

photon_link *link_shm_create(const char *run_id, const link_plan *plan, photon_err *err)
{
    shm_link *s = plan_segments(run_id, plan, 1);
    struct statvfs vfs;
    if (statvfs("/dev/shm", &vfs) == 0) {
        double avail = (double)vfs.f_bavail * (double)vfs.f_frsize;
        if (avail < (double)s->footprint) {
            err_set(err, "/dev/shm has %.1f MiB free but this run needs %.1f MiB of shared memory "
                    "(global model + %d update slots + %d client states); free space in /dev/shm, "
                    "use fewer actors, or a smaller model",
                    avail / 1048576.0, (double)s->footprint / 1048576.0, plan->update_slots, plan->state_slots);
            free(s->seg); free(s);
            return NULL;
        }
    }
    int slot = -1;
    for (int i = 0; i < MAX_OWNED; i++) if (!owned[i]) { slot = i; break; }
    if (slot < 0) { err_set(err, "shm link: too many links in one process"); free(s->seg); free(s); return NULL; }
    owned[slot] = s;
    if (!atexit_done) { atexit(unlink_owned_at_exit); atexit_done = 1; }
    for (int i = 0; i < s->nseg; i++) {
        size_t payload;
        int kind = seg_kind(plan, i, &payload);
        if (map_seg(&s->seg[i], 1, payload, kind, err) < 0) {
            for (int j = i; j < s->nseg; j++) s->seg[j].name[0] = 0;   /* not ours to unlink */
            shm_close(&s->base);
            return NULL;
        }
    }
    return &s->base;
}

photon_link *link_shm_attach(const char *run_id, const link_plan *plan, photon_err *err)
{
    shm_link *s = plan_segments(run_id, plan, 0);
    for (int i = 0; i < s->nseg; i++) {
        size_t payload;
        int kind = seg_kind(plan, i, &payload);
        if (map_seg(&s->seg[i], 0, payload, kind, err) < 0) { shm_close(&s->base); return NULL; }
    }
    return &s->base;
}

int link_shm_remove_stale(void)
{
    DIR *d = opendir("/dev/shm");
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "photon-", 7) != 0) continue;
        char *end;
        long pid = strtol(e->d_name + 7, &end, 10);
        if (end == e->d_name + 7 || *end != '-' || pid <= 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno == EPERM) continue;   /* its supervisor lives */
        char name[300];
        snprintf(name, sizeof name, "/%s", e->d_name);
        if (shm_unlink(name) == 0) removed++;
    }
    closedir(d);
    return removed;
}
