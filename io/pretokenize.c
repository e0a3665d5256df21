/* GPT-2's pre-tokenizer split rules (see pretokenize.h), written as a
 * small state machine over UTF-8 characters.  ASCII takes a table lookup;
 * other code points a binary search in the generated Unicode range tables.
 * This is the hot loop of tokenization, hence the fast paths. */
#include "io/pretokenize.h"
#include <string.h>
#include "io/unicode_tables.h"

static const unsigned char ascii_class[128] = {
    /* 0x00-0x1f: \t \n \v \f \r are White_Space, the rest are other */
    3,3,3,3,3,3,3,3,3,2,2,2,2,2,3,3, 3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,
    /* ' ' ! " # $ % & ' ( ) * + , - . / */
    2,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,
    /* 0-9 : ; < = > ? */
    1,1,1,1,1,1,1,1,1,1,3,3,3,3,3,3,
    /* @ A-O */
    3,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    /* P-Z [ \ ] ^ _ */
    0,0,0,0,0,0,0,0,0,0,0,3,3,3,3,3,
    /* ` a-o */
    3,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    /* p-z { | } ~ DEL */
    0,0,0,0,0,0,0,0,0,0,0,3,3,3,3,3,
};

static int in_ranges(const uint32_t (*r)[2], int n, uint32_t cp)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) >> 1;
        if (cp < r[mid][0]) hi = mid - 1;
        else if (cp > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

int uclass(uint32_t cp)
{
    if (cp < 128) return ascii_class[cp];
    if (cp == 0xFFFFFFFFu) return UCLASS_OTHER;
    if (in_ranges(uni_letter, UNI_LETTER_N, cp)) return UCLASS_LETTER;
    if (in_ranges(uni_number, UNI_NUMBER_N, cp)) return UCLASS_NUMBER;
    if (in_ranges(uni_space, UNI_SPACE_N, cp)) return UCLASS_SPACE;
    return UCLASS_OTHER;
}

int uword(uint32_t cp)
{
    if (cp == 0xFFFFFFFFu) return 0;
    return in_ranges(uni_word, UNI_WORD_N, cp);
}

int uspace(uint32_t cp)
{
    if (cp < 128) return ascii_class[cp] == UCLASS_SPACE;
    return cp != 0xFFFFFFFFu && in_ranges(uni_space, UNI_SPACE_N, cp);
}

int utf8_decode(const unsigned char *s, size_t n, size_t i, uint32_t *cp)
{
    unsigned c = s[i];
    if (c < 0x80) { *cp = c; return 1; }
    size_t left = n - i;
    if (c >= 0xC2 && c <= 0xDF) {
        if (left >= 2 && (s[i + 1] & 0xC0) == 0x80) { *cp = ((c & 31u) << 6) | (s[i + 1] & 63u); return 2; }
    } else if (c >= 0xE0 && c <= 0xEF) {
        if (left >= 3 && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80) {
            uint32_t v = ((c & 15u) << 12) | ((s[i + 1] & 63u) << 6) | (s[i + 2] & 63u);
            if (v >= 0x800 && (v < 0xD800 || v > 0xDFFF)) { *cp = v; return 3; }
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        if (left >= 4 && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80 && (s[i + 3] & 0xC0) == 0x80) {
            uint32_t v = ((c & 7u) << 18) | ((s[i + 1] & 63u) << 12) | ((s[i + 2] & 63u) << 6) | (s[i + 3] & 63u);
            if (v >= 0x10000 && v <= 0x10FFFF) { *cp = v; return 4; }
        }
    }
    *cp = 0xFFFFFFFFu;
    return 1;
}

size_t utf8_first_invalid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* skip ASCII eight bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= n) break;
        if (s[i] < 0x80) { i++; continue; }
        uint32_t cp;
        int len = utf8_decode(s, n, i, &cp);
        if (cp == 0xFFFFFFFFu) return i;
        i += (size_t)len;
    }
    return n;
}

/* Class and length of the character at i. */
static inline int class_at(const unsigned char *s, size_t n, size_t i, int *len)
{
    unsigned c = s[i];
    if (c < 0x80) { *len = 1; return ascii_class[c]; }
    uint32_t cp;
    *len = utf8_decode(s, n, i, &cp);
    return uclass(cp);
}

/* End of the run of characters of class k starting at i. */
static inline size_t run_end(const unsigned char *s, size_t n, size_t i, int k)
{
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (ascii_class[c] != k) break;
            i++;
        } else {
            int len;
            if (class_at(s, n, i, &len) != k) break;
            i += (size_t)len;
        }
    }
    return i;
}

size_t pretok_next(const unsigned char *s, size_t n, size_t i)
{
    unsigned c = s[i];
    /* contractions, lower case only, as GPT-2's pattern is case-sensitive */
    if (c == '\'' && i + 1 < n) {
        unsigned c1 = s[i + 1];
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return i + 2;
        if (i + 2 < n) {
            unsigned c2 = s[i + 2];
            if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return i + 3;
        }
    }
    int len, k;
    /* " ?X+" for X = letters, numbers, other: one leading space joins the run */
    if (c == ' ' && i + 1 < n) {
        k = class_at(s, n, i + 1, &len);
        if (k != UCLASS_SPACE) return run_end(s, n, i + 1 + (size_t)len, k);
    }
    k = class_at(s, n, i, &len);
    if (k != UCLASS_SPACE) return run_end(s, n, i + (size_t)len, k);
    /* white space: \s+(?!\S) keeps the last space for the next word unless
     * the run ends the text; a single space before a word is \s+ alone */
    size_t last = i, j = i + (size_t)len;
    while (j < n) {
        int l2;
        if (class_at(s, n, j, &l2) != UCLASS_SPACE) break;
        last = j;
        j += (size_t)l2;
    }
    if (j == n) return n;
    return last > i ? last : j;
}
