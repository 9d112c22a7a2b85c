/* The work between a CPU forward's matmuls (engine/native_glue.py says why it is in C).

   fp32, contiguous rows. Written so that gcc or clang at -O3 vectorises every loop without
   -ffast-math: sums run in LANES partial sums, and exp is our own polynomial, not libm's call. */

#include <math.h>
#include <stdint.h>
#include <string.h>

#define LANES 16

static float sum_squares(const float *a, int64_t n) {
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; ++j) acc[j] += a[i + j] * a[i + j];
    float s = 0.f;
    for (int j = 0; j < LANES; ++j) s += acc[j];
    for (; i < n; ++i) s += a[i] * a[i];
    return s;
}

static void norm_rows(const float *x, const float *w, float eps, int64_t rows, int64_t n, float *out) {
    for (int64_t r = 0; r < rows; ++r) {
        const float *a = x + r * n;
        float *o = out + r * n;
        const float scale = 1.f / sqrtf(sum_squares(a, n) / (float)n + eps);
        for (int64_t i = 0; i < n; ++i) o[i] = (a[i] * scale) * w[i];
    }
}

void dp_rms_norm(const float *x, const float *w, float eps, int64_t rows, int64_t n, float *out) {
    norm_rows(x, w, eps, rows, n, out);
}

/* x += delta (the residual), then out = RMSNorm(x) * w: two of a layer's steps in one pass. */
void dp_add_rms_norm(float *x, const float *delta, const float *w, float eps, int64_t rows, int64_t n, float *out) {
    for (int64_t i = 0; i < rows * n; ++i) x[i] += delta[i];
    norm_rows(x, w, eps, rows, n, out);
}

void dp_add(float *x, const float *delta, int64_t count) {
    for (int64_t i = 0; i < count; ++i) x[i] += delta[i];
}

/* e^x to within about 1e-7 relative (tests/test_native_glue.py): x = k ln2 + r with
   |r| <= ln2 / 2, e^r = 1 + r + r^2 p(r) with a degree-5 p (the classic single-precision
   coefficients), 2^k by writing the float's exponent. Clamped to +-87, where e^x still fits. */
static inline float exp_poly(float x) {
    x = x < -87.0f ? -87.0f : (x > 87.0f ? 87.0f : x);  /* not fminf/fmaxf: those are calls */
    const float k = rintf(x * 1.44269504088896341f);
    const float r = (x - k * 0.693359375f) - k * -2.12194440e-4f;  /* ln2 split in two: exact k * hi */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.f;
    const int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* gate_up [rows, 2n] (gate then up, as the fused projection writes them); out = silu(gate) * up */
void dp_silu_mul(const float *gate_up, int64_t rows, int64_t n, float *out) {
    for (int64_t r = 0; r < rows; ++r) {
        const float *g = gate_up + r * 2 * n, *u = g + n;
        float *o = out + r * n;
        for (int64_t i = 0; i < n; ++i) o[i] = g[i] / (1.f + exp_poly(-g[i])) * u[i];
    }
}

/* qkv [width, heads + 2 kv_heads, d]; cos and sin [width, d], sin with its first half negated, so
   rotate_half(x) * sin is x rolled by d/2 times sin. Writes q rotated to q_out [heads, width, d]
   (heads that share a KV head are adjacent, so this is [kv_heads, group * width, d], the grouped
   layout attention reads), rotates k in place, then copies k and v into this layer's cache
   [2, kv_heads, capacity, d] at positions start.. */
void dp_rope_store(float *qkv, const float *cos, const float *sin, int64_t width, int64_t heads,
                   int64_t kv_heads, int64_t d, float *q_out, float *cache, int64_t capacity, int64_t start) {
    const int64_t half = d / 2, row = (heads + 2 * kv_heads) * d;
    for (int64_t r = 0; r < width; ++r) {
        const float *c = cos + r * d, *s = sin + r * d;
        for (int64_t h = 0; h < heads + kv_heads; ++h) {
            float *x = qkv + r * row + h * d;
            float *o = h < heads ? q_out + (h * width + r) * d : x;
            for (int64_t i = 0; i < half; ++i) {
                const float lo = x[i], hi = x[i + half];
                o[i] = lo * c[i] + hi * s[i];
                o[i + half] = hi * c[i + half] + lo * s[i + half];
            }
        }
        for (int64_t kind = 0; kind < 2; ++kind)
            for (int64_t h = 0; h < kv_heads; ++h)
                memcpy(cache + ((kind * kv_heads + h) * capacity + start + r) * d,
                       qkv + r * row + (heads + kind * kv_heads + h) * d, (size_t)d * sizeof(float));
    }
}

/* Attention's output [heads, width, d] back to token rows [width, heads * d] for the projection. */
void dp_ungroup(const float *a, int64_t heads, int64_t width, int64_t d, float *out) {
    for (int64_t r = 0; r < width; ++r)
        for (int64_t h = 0; h < heads; ++h)
            memcpy(out + (r * heads + h) * d, a + (h * width + r) * d, (size_t)d * sizeof(float));
}
