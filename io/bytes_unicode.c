/* GPT-2's byte <-> unicode mapping (see bytes_unicode.h).  Printable
 * Latin-1 bytes map to themselves; the other 68 bytes map to U+0100.. in
 * byte order, exactly as bytes_to_unicode() builds it. */
#include "io/bytes_unicode.h"

static int printable(unsigned b)
{
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t bu_byte_to_cp(unsigned b)
{
    if (printable(b)) return b;
    uint32_t n = 0;
    for (unsigned x = 0; x < b; x++) n += !printable(x);
    return 256 + n;
}

int bu_cp_to_byte(uint32_t cp)
{
    if (cp < 256) return printable(cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    uint32_t n = 0;
    for (unsigned x = 0; x < 256; x++)
        if (!printable(x)) { if (n == cp - 256) return (int)x; n++; }
    return -1;
}

void bu_byte_order(unsigned char order[256])
{
    int k = 0;
    for (unsigned b = 0; b < 256; b++) if (printable(b)) order[k++] = (unsigned char)b;
    for (unsigned b = 0; b < 256; b++) if (!printable(b)) order[k++] = (unsigned char)b;
}
