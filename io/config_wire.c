/* A configuration received as bytes from another process (see io/config.h,
 * cfg_wire_sanitize / cfg_wire_check): every value checked against the
 * schema before anything reads it as its type (a bool byte of 40 or an
 * enum of -7 is undefined behaviour or an index out of bounds), then the
 * cross-key rules of cfg_check_ex. */
#include "io/config_schema.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

void cfg_wire_sanitize(photon_config *c)
{
    for (int k = 0; k < cfg_nkeys; k++)
        if (cfg_keys[k].type == CFG_T_LIST || cfg_keys[k].type == CFG_T_PATHLIST)
            memset((char *)c + cfg_keys[k].offset, 0, sizeof(cfg_list));
}

static int nchoices(const cfg_key *r)
{
    int n = 0;
    while (r->choices && r->choices[n]) n++;
    return n;
}

static int bad(const cfg_key *r, char *why, size_t n, const char *what)
{
    snprintf(why, n, "[%s] %s: %s", r->section, r->key, what);
    return -1;
}

static int number_ok(const cfg_key *r, double v) { return !isnan(v) && cfg_in_range(r, v); }

int cfg_wire_check(const photon_config *c, char *why, size_t n)
{
    const char *base = (const char *)c;
    for (int k = 0; k < cfg_nkeys; k++) {
        const cfg_key *r = &cfg_keys[k];
        const char *f = base + r->offset;
        switch (r->type) {
        case CFG_T_INT: {
            int v;
            memcpy(&v, f, sizeof v);
            if (!number_ok(r, v)) return bad(r, why, n, "out of range");
            break;
        }
        case CFG_T_I64: {
            int64_t v;
            memcpy(&v, f, sizeof v);
            if (!number_ok(r, (double)v)) return bad(r, why, n, "out of range");
            break;
        }
        case CFG_T_U64:
            break;   /* any value is one */
        case CFG_T_DOUBLE: {
            double v;
            memcpy(&v, f, sizeof v);
            if (!isfinite(v) || !number_ok(r, v)) return bad(r, why, n, "not a finite number in range");
            break;
        }
        case CFG_T_BOOL: {
            unsigned char b;
            memcpy(&b, f, 1);
            if (b > 1) return bad(r, why, n, "not a boolean");
            break;
        }
        case CFG_T_STRING: case CFG_T_PATH:
            if (!memchr(f, 0, r->size)) return bad(r, why, n, "string not terminated");
            break;
        case CFG_T_CHOICE: {
            if (!memchr(f, 0, r->size)) return bad(r, why, n, "string not terminated");
            int ok = !f[0];
            for (int i = 0; !ok && r->choices && r->choices[i]; i++) ok = strcasecmp(f, r->choices[i]) == 0;
            if (!ok) return bad(r, why, n, "not one of its choices");
            break;
        }
        case CFG_T_ENUM: {
            int v;
            memcpy(&v, f, sizeof v);
            if (v < 0 || v >= nchoices(r)) return bad(r, why, n, "not one of its choices");
            break;
        }
        case CFG_T_LIST: case CFG_T_PATHLIST: {
            cfg_list l;
            memcpy(&l, f, sizeof l);
            if (l.n != 0 || l.item != NULL) return bad(r, why, n, "a list (not carried between processes)");
            break;
        }
        case CFG_T_PERCLIENT: {
            cfg_perclient p;
            memcpy(&p, f, sizeof p);
            if (p.kind < DIST_CONST || p.kind > DIST_LOGUNIFORM || p.n < 0 || p.n > CFG_PERCLIENT_MAX ||
                isnan(p.a) || isnan(p.b) || !isfinite(p.a) || !isfinite(p.b))
                return bad(r, why, n, "malformed per-client value");
            for (int i = 0; i < p.n; i++)
                if (!number_ok(r, p.v[i])) return bad(r, why, n, "a per-client value out of range");
            break;
        }
        }
    }
    for (int i = 0; i < cfg_noptionals; i++) {
        unsigned char b;
        memcpy(&b, base + cfg_optionals[i].present_off, 1);
        if (b > 1) { snprintf(why, n, "[%s]: presence flag not a boolean", cfg_optionals[i].name); return -1; }
    }
    if (!memchr(c->source_path, 0, sizeof c->source_path)) { snprintf(why, n, "source path not terminated"); return -1; }
    photon_err err;
    if (cfg_check_ex(c, NULL, "the supervisor's configuration", 0, &err) < 0) {
        snprintf(why, n, "%s", err.msg);
        return -1;
    }
    return 0;
}
