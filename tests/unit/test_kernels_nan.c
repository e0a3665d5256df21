/* NaN and infinity in the CPU kernels (issue 12 item 9).  fast_expf once
 * converted a NaN to int32 (undefined behaviour, reported by UBSan's
 * float-cast-overflow check that the sanitizer build enables): now NaN in
 * gives NaN out, ±inf clamp as before, and every finite input gives bit for
 * bit what the previous formula gave (a copy of it is kept here as the
 * reference and compared over a sweep of 2^24 floats covering every
 * exponent).  A model with a NaN weight then gives a NaN loss, and with
 * weights near FLT_MAX (finite, but overflowing in the forward pass) a
 * non-finite loss, without tripping the sanitizers. */
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "gpu/model.h"
#include "gpu/cpu/kernels.h"

/* The formula before the fix, for finite inputs only. */
static float ref_expf(float x)
{
    if (x < -87.0f) x = -87.0f;
    if (x > 88.0f) x = 88.0f;
    float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    union { float f; int32_t i; } u = { .f = p };
    u.i += (int32_t)k * (1 << 23);
    return u.f;
}

static void test_fast_expf(void)
{
    volatile float nan = NAN, inf = INFINITY;
    CHECK(isnan(fast_expf(nan)));
    CHECK(isnan(fast_expf(-nan)));
    CHECK(fast_expf(inf) == ref_expf(88.0f));
    CHECK(fast_expf(-inf) == ref_expf(-87.0f));
    /* every 256th bit pattern of the finite floats, both signs */
    long diff = 0, n = 0;
    for (uint32_t bits = 0; bits < 0x7F800000u; bits += 256) {
        for (int s = 0; s < 2; s++) {
            union { uint32_t u; float f; } v = { .u = bits | (s ? 0x80000000u : 0) };
            float a = fast_expf(v.f), b = ref_expf(v.f);
            diff += memcmp(&a, &b, sizeof a) != 0;
            n++;
        }
    }
    printf("   %ld finite inputs, %ld differ from the previous formula\n", n, diff);
    CHECK_EQ_INT(diff, 0);
    /* the vectorised loops the kernels use, with NaN in the middle */
    float buf[64];
    for (int i = 0; i < 64; i++) buf[i] = (float)(i - 32) * 0.37f;
    buf[17] = nan;
    for (int i = 0; i < 64; i++) buf[i] = fast_expf(buf[i]);
    CHECK(isnan(buf[17]));
    CHECK(buf[16] == ref_expf((float)(16 - 32) * 0.37f) && buf[18] == ref_expf((float)(18 - 32) * 0.37f));
}

static double loss_with(const gpt2_config *c, float *p, int tensor_elem, float v)
{
    photon_err err;
    backend_opts o = { .kind = PHOTON_BACKEND_CPU, .threads = 2 };
    photon_model *m = model_create(c, 2, c->seq_len, &o, &err);
    if (!m) { fprintf(stderr, "%s\n", err.msg); return 0; }
    float keep = p[tensor_elem];
    p[tensor_elem] = v;
    m->ops->set_params(m, p);
    uint32_t tok[2 * 9];
    for (int i = 0; i < 18; i++) tok[i] = (uint32_t)(i * 7 % c->vocab_size);
    double loss = m->ops->forward_loss(m, tok);
    p[tensor_elem] = keep;
    model_destroy(m);
    return loss;
}

static void test_model(void)
{
    gpt2_config c = { .n_layer = 1, .n_head = 2, .d_model = 16, .seq_len = 8, .vocab_size = 40, .padded_vocab = 40 };
    size_t n = gpt2_num_params(&c);
    float *p = malloc(n * sizeof *p);
    gpt2_init_params(&c, p, 3, 0.02);
    gpt2_layout l;
    gpt2_layout_init(&l, &c);
    double ok = loss_with(&c, p, 0, p[0]);
    CHECK(isfinite(ok) && ok > 0);
    /* NaN in a token embedding, in an attention weight, in the final LayerNorm */
    CHECK(isnan(loss_with(&c, p, (int)l.offset[T_WTE] + 7 * 16 + 3, NAN)));
    CHECK(isnan(loss_with(&c, p, (int)l.offset[T_QKVW] + 5, NAN)));
    CHECK(isnan(loss_with(&c, p, (int)l.offset[T_LNFW] + 2, NAN)));
    /* finite but huge: the softmax sees inf - inf */
    CHECK(!isfinite(loss_with(&c, p, (int)l.offset[T_QKVW] + 5, FLT_MAX)));
    free(p);
}

int main(void)
{
    RUN(test_fast_expf);
    RUN(test_model);
    return th_finish();
}
