/* Internal to the config module: the schema table type and the per-type
 * value codecs that parsing, --set, the dump and the reference share.
 * Other modules use io/config.h only. */
#ifndef PHOTON_CONFIG_SCHEMA_H
#define PHOTON_CONFIG_SCHEMA_H
#include <stddef.h>
#include "io/config.h"

typedef enum {
    CFG_T_INT,      /* int */
    CFG_T_I64,      /* int64_t */
    CFG_T_U64,      /* uint64_t */
    CFG_T_DOUBLE,   /* double */
    CFG_T_BOOL,     /* bool: true/false, yes/no, on/off, 1/0 */
    CFG_T_STRING,   /* char[CFG_STR] */
    CFG_T_CHOICE,   /* char[CFG_STR] restricted to choices */
    CFG_T_ENUM,     /* int: index into choices */
    CFG_T_LIST,     /* cfg_list of strings */
    CFG_T_PATH,     /* char[CFG_STR], relative to the file that sets it */
    CFG_T_PATHLIST, /* cfg_list of "path" or "name=path" items */
    CFG_T_PERCLIENT, /* cfg_perclient: a number, one per client, or a distribution */
} cfg_type;

/* Range flags: which bounds apply and whether they are exclusive. */
enum { CFG_MIN = 1, CFG_MAX = 2, CFG_MIN_OPEN = 4, CFG_MAX_OPEN = 8 };

typedef struct {
    const char *section, *key;
    cfg_type type;
    size_t offset, size;        /* where the value lives in photon_config */
    const char *def;            /* default, written as in an INI file */
    unsigned range;             /* CFG_MIN | CFG_MAX | ... */
    double min, max;
    const char *const *choices; /* NULL-terminated (choice, enum) */
    const char *keep;           /* path: a special value kept as is ("train") */
    const char *help;
    bool input;                 /* path(s) that must exist once loaded (inputs) */
} cfg_key;

typedef struct { const char *name, *help; } cfg_section;

/* An optional section is off unless it appears in a file (a header alone
 * will do) or a --set names one of its keys; the bool at present_off in
 * photon_config says whether it did, and the dump writes it only then. */
typedef struct { const char *name; size_t present_off; } cfg_optional;
extern const cfg_optional cfg_optionals[];
extern const int cfg_noptionals;
/* The present flag's offset for section index s, or 0 if s is not optional. */
size_t cfg_present_off(int s);

extern const cfg_key cfg_keys[];
extern const int cfg_nkeys;
extern const cfg_section cfg_sections[];
extern const int cfg_nsections;

/* Row index of section.key, or -1. */
int cfg_find(const char *section, const char *key);
int cfg_find_section(const char *section);
/* The closest known name within edit distance 2 (or a third of its length),
 * or NULL.  names are n pointers spaced stride bytes apart. */
const char *cfg_suggest(const char *word, const void *names, size_t stride, int n);

/* Parses text as row k's value into c.  Paths that are relative are resolved
 * against base_dir (absolute).  On failure fills err with
 * "[section] key: expected ... (got 'text')" and leaves c unchanged. */
int cfg_parse_value(photon_config *c, int k, const char *text, const char *base_dir,
                    photon_err *err);
/* Writes row k's current value as INI text (re-parsable by cfg_parse_value). */
void cfg_format_value(const photon_config *c, int k, char *out, size_t n);
/* A double as the shortest text that reads back to the same bits. */
void cfg_format_number(double v, char *out, size_t n);
/* What a value of row k must look like ("an integer in [1, 64]"). */
void cfg_describe(int k, char *out, size_t n);
/* Whether v is inside row r's range (its bounds and their openness). */
bool cfg_in_range(const cfg_key *r, double v);
/* Short type name for the reference ("int", "enum", ...). */
const char *cfg_type_name(cfg_type t);

/* Checks that every input path (sources, tokenizer, ...) exists and that
 * [data] validation names at most VAL_MAX_SOURCES sources; the error names
 * where the key was set. */
int cfg_check_inputs(const photon_config *c, const char *const *origin, const char *fallback,
                     photon_err *err);
/* Cross-key checks; origin[k] (may be NULL, or hold NULL entries) tells where
 * row k was set ("file:line"), so the message can point at it. */
int cfg_check(const photon_config *c, const char *const *origin, const char *fallback,
              photon_err *err);
/* The same; need_data 0 skips the [data] checks (sources, tokenizer). */
int cfg_check_ex(const photon_config *c, const char *const *origin, const char *fallback, int need_data,
                 photon_err *err);
/* Marks optional section s present in c (no-op for the others). */
void cfg_set_present(photon_config *c, int s);
#endif
