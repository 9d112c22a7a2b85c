/* The work between a CPU forward's matmuls (engine/native_glue.py says why it is in C).

   fp32, contiguous rows. Written so that gcc or clang at -O3 vectorises every loop without
   -ffast-math: sums run in LANES partial sums, and exp is our own polynomial, not libm's call. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
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

/* gate_up [rows, 2n] (gate then up, as the fused projection writes them); out = silu(gate) * up.
   Rows split over the threads from 4 rows up: below that the threads cost more than they save. */
void dp_silu_mul(const float *gate_up, int64_t rows, int64_t n, int64_t threads, float *out) {
    #pragma omp parallel for num_threads((int)threads) if (threads > 1 && rows >= 4) schedule(static)
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

/* ---- attention ------------------------------------------------------------------------------

   Why our own: at decoding widths PyTorch's SDPA runs this model's attention at a fifth of the
   speed of its matmuls (a 2-core EPYC: ~2 ms of a 38 ms forward at width 1, ~4 ms at width 16).
   One pass per block of up to 4 query rows of one KV head, no K transpose and no copies: the
   scores of 16 keys are 16 dot products reduced together into one vector (reduce16), softmax
   runs in place over them, and V is summed into registers. Query heads that share a KV head are
   rows of one block, so K and V are read once per group, never repeated. */

typedef float vf __attribute__((vector_size(64)));  /* 16 floats: one AVX-512 register, two AVX2 */
#define BLOCK 4        /* query rows per block: their V accumulators stay in registers */
#define MAX_VECS 8     /* head_dim <= 128 (native_glue.Glue.attends checks) */
#define LANE_BLOCK 16  /* query rows per block of a wide input: one per lane */

static inline vf load(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void store(float *p, vf v) { memcpy(p, &v, sizeof v); }

#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
/* lane k of the result = the sum of v[k]'s lanes: four levels, each halving the partial sums per
   vector while doubling the vectors per register */
static inline vf reduce16(const vf *v) {
    vf a[8], b[4], c[2];
    for (int i = 0; i < 8; ++i)
        a[i] = SHUF(v[2 * i], v[2 * i + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
             + SHUF(v[2 * i], v[2 * i + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    for (int i = 0; i < 4; ++i)
        b[i] = SHUF(a[2 * i], a[2 * i + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27)
             + SHUF(a[2 * i], a[2 * i + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    for (int i = 0; i < 2; ++i)
        c[i] = SHUF(b[2 * i], b[2 * i + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29)
             + SHUF(b[2 * i], b[2 * i + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
    return SHUF(c[0], c[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
         + SHUF(c[0], c[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}
#else
static inline vf reduce16(const vf *v) {
    vf out;
    for (int k = 0; k < 16; ++k) {
        float s = 0.f;
        for (int i = 0; i < 16; ++i) s += v[k][i];
        out[k] = s;
    }
    return out;
}
#endif

static inline float hsum(vf v) {
    float s = 0.f;
    for (int i = 0; i < 16; ++i) s += v[i];
    return s;
}

/* Softmax of one row of scores in place, returning 1 / the sum of its exponentials (applied to
   the output, not here). A -inf score (masked) weighs exactly 0. */
static float softmax_unnormalised(float *s, int64_t n) {
    float top[LANES], sums[LANES];
    for (int j = 0; j < LANES; ++j) top[j] = -INFINITY, sums[j] = 0.f;
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; ++j) top[j] = s[i + j] > top[j] ? s[i + j] : top[j];
    float m = -INFINITY;
    for (int j = 0; j < LANES; ++j) m = top[j] > m ? top[j] : m;
    for (; i < n; ++i) m = s[i] > m ? s[i] : m;
    for (i = 0; i < n; ++i) s[i] = s[i] == -INFINITY ? 0.f : exp_poly(s[i] - m);
    for (i = 0; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; ++j) sums[j] += s[i + j];
    float total = 0.f;
    for (int j = 0; j < LANES; ++j) total += sums[j];
    for (; i < n; ++i) total += s[i];
    return 1.f / total;
}

/* Up to BLOCK query rows q (stride d) of one KV head against keys and values [length, d]; scores
   go to s [rows, length]; row b's output to out[b]. mask (row stride mask_stride) is added to the
   scores of keys mask_from.. (the keys before it are all visible). nv = d / 16, a constant where
   this is inlined, so the loops over a row's vectors unroll. */
static inline __attribute__((always_inline)) void attend_block(
        const float *q, int rows, const float *keys, const float *values, int64_t length, const float *mask,
        int64_t mask_stride, int64_t mask_from, float scale, int nv, float *s, float **out) {
    const int64_t d = 16 * nv;
    vf qv[BLOCK][MAX_VECS];
    for (int b = 0; b < rows; ++b)
        for (int i = 0; i < nv; ++i) qv[b][i] = load(q + b * d + 16 * i);
    int64_t j = 0;
    for (; j + 16 <= length; j += 16) {
        vf part[BLOCK][16];
        for (int k = 0; k < 16; ++k) {
            const float *key = keys + (j + k) * d;
            vf kv[MAX_VECS];
            for (int i = 0; i < nv; ++i) kv[i] = load(key + 16 * i);
            for (int b = 0; b < rows; ++b) {
                vf acc = qv[b][0] * kv[0];
                for (int i = 1; i < nv; ++i) acc += qv[b][i] * kv[i];
                part[b][k] = acc;
            }
        }
        for (int b = 0; b < rows; ++b) store(s + b * length + j, reduce16(part[b]) * scale);
    }
    for (; j < length; ++j)
        for (int b = 0; b < rows; ++b) {
            vf acc = qv[b][0] * load(keys + j * d);
            for (int i = 1; i < nv; ++i) acc += qv[b][i] * load(keys + j * d + 16 * i);
            s[b * length + j] = hsum(acc) * scale;
        }
    float inv[BLOCK];
    for (int b = 0; b < rows; ++b) {
        float *row = s + b * length;
        if (mask)
            for (int64_t k = mask_from; k < length; ++k) row[k] += mask[b * mask_stride + k - mask_from];
        inv[b] = softmax_unnormalised(row, length);
    }
    vf acc[BLOCK][MAX_VECS];
    for (int b = 0; b < rows; ++b)
        for (int i = 0; i < nv; ++i) acc[b][i] = (vf){0};
    for (j = 0; j < length; ++j) {
        const float *value = values + j * d;
        for (int i = 0; i < nv; ++i) {
            const vf v = load(value + 16 * i);
            for (int b = 0; b < rows; ++b) acc[b][i] += s[b * length + j] * v;
        }
    }
    for (int b = 0; b < rows; ++b)
        for (int i = 0; i < nv; ++i) store(out[b] + 16 * i, acc[b][i] * inv[b]);
}

/* The same for up to 16 query rows with the rows in the lanes (a block of a wide tree): q is
   transposed into qt [d, 16] (a few hundred floats), so a key's scores for all 16 rows are d FMAs
   of qt's rows by the key's broadcast entries, and V is summed the same way, 16 output columns at
   a time: no reductions across lanes at all. st [length, 16] holds scores, then weights. Missing
   rows are zero queries whose outputs are dropped. */
static inline __attribute__((always_inline)) void attend_lanes(
        const float *q, int rows, const float *keys, const float *values, int64_t length, const float *mask,
        int64_t mask_stride, int64_t mask_from, float scale, int nv, float *qt, float *st, float **out) {
    const int64_t d = 16 * nv;
    for (int64_t i = 0; i < d; ++i)
        for (int r = 0; r < 16; ++r) qt[i * 16 + r] = r < rows ? q[r * d + i] * scale : 0.f;
    int64_t j = 0;
    for (; j + 8 <= length; j += 8) {  /* eight keys at a time: enough independent FMA chains to hide their latency */
        const float *k = keys + j * d;
        vf a[8] = {{0}};
        for (int64_t i = 0; i < d; ++i) {
            const vf t = load(qt + i * 16);
            for (int c = 0; c < 8; ++c) a[c] += t * k[c * d + i];
        }
        for (int c = 0; c < 8; ++c) store(st + (j + c) * 16, a[c]);
    }
    for (; j < length; ++j) {
        vf a = {0};
        for (int64_t i = 0; i < d; ++i) a += load(qt + i * 16) * keys[j * d + i];
        store(st + j * 16, a);
    }
    if (mask)
        for (int64_t k = mask_from; k < length; ++k)
            for (int r = 0; r < rows; ++r) st[k * 16 + r] += mask[r * mask_stride + k - mask_from];
    float top[16];
    vf total = {0};
    memcpy(top, st, sizeof top);
    for (j = 1; j < length; ++j)
        for (int r = 0; r < 16; ++r) top[r] = st[j * 16 + r] > top[r] ? st[j * 16 + r] : top[r];
    for (j = 0; j < length; ++j) {
        float e[16];
        for (int r = 0; r < 16; ++r) {
            const float x = st[j * 16 + r];
            e[r] = x == -INFINITY ? 0.f : exp_poly(x - top[r]);
        }
        const vf p = load(e);
        store(st + j * 16, p);
        total += p;
    }
    const vf inv = 1.f / total;
    for (int64_t c0 = 0; c0 < d; c0 += 16) {
        vf acc[16];
        for (int c = 0; c < 16; ++c) acc[c] = (vf){0};
        for (j = 0; j < length; ++j) {
            const vf p = load(st + j * 16);
            const float *v = values + j * d + c0;
            for (int c = 0; c < 16; ++c) acc[c] += p * v[c];
        }
        for (int c = 0; c < 16; ++c) {
            const vf o = acc[c] * inv;
            for (int r = 0; r < rows; ++r) out[r][c0 + c] = o[r];
        }
    }
}

/* q [kv_heads, group * width, d] (row g * width + r is query head kv_head * group + g of token
   r, as dp_rope_store writes it) against this layer's cache [2, kv_heads, capacity, d], keys
   0..length; mask as attend_block's, its rows those of q within a KV head (or NULL: all visible).
   Writes out [width, heads * d], the layout the output projection reads. */
void dp_attend(const float *q, const float *cache, int64_t kv_heads, int64_t group, int64_t width, int64_t d,
               int64_t capacity, int64_t length, const float *mask, int64_t mask_stride, int64_t mask_from,
               float scale, int64_t threads, float *out) {
    const int64_t rows = group * width;
    const int wide = rows >= 8, size = wide ? LANE_BLOCK : BLOCK;  /* rows per block */
    const int64_t blocks = (rows + size - 1) / size, units = kv_heads * blocks;
    const int nv = (int)(d / 16);
    #pragma omp parallel num_threads((int)threads) if (threads > 1 && units > 1)
    {
        float *scratch = malloc((size_t)(16 * length + 16 * d) * sizeof(float));
        #pragma omp for schedule(static)
        for (int64_t u = 0; u < units; ++u) {
            const int64_t h = u / blocks, first = (u % blocks) * size;
            const int n = (int)(rows - first < size ? rows - first : size);
            float *dest[LANE_BLOCK];
            for (int b = 0; b < n; ++b) {
                const int64_t m = first + b;  /* query head h * group + m / width, token m % width */
                dest[b] = out + ((m % width) * kv_heads * group + h * group + m / width) * d;
            }
            const float *qb = q + (h * rows + first) * d, *keys = cache + h * capacity * d;
            const float *values = cache + (kv_heads + h) * capacity * d;
            const float *mb = mask ? mask + first * mask_stride : NULL;
            float *qt = scratch + 16 * length;
            /* constant nv where it is common, so the loops over a row's vectors unroll */
            if (wide && nv == 4)
                attend_lanes(qb, n, keys, values, length, mb, mask_stride, mask_from, scale, 4, qt, scratch, dest);
            else if (wide)
                attend_lanes(qb, n, keys, values, length, mb, mask_stride, mask_from, scale, nv, qt, scratch, dest);
            else if (nv == 4)
                attend_block(qb, n, keys, values, length, mb, mask_stride, mask_from, scale, 4, scratch, dest);
            else if (nv == 8)
                attend_block(qb, n, keys, values, length, mb, mask_stride, mask_from, scale, 8, scratch, dest);
            else
                attend_block(qb, n, keys, values, length, mb, mask_stride, mask_from, scale, nv, scratch, dest);
        }
        free(scratch);
    }
}

/* dp_rope_store then dp_attend, one call: every call after a GEMM starts with cold caches (the
   GEMM has streamed megabytes of weights through them), so a layer makes as few as it can.
   q is scratch [heads, width, d]. */
void dp_rope_attend(float *qkv, const float *cos, const float *sin, int64_t width, int64_t heads, int64_t kv_heads,
                    int64_t d, float *cache, int64_t capacity, int64_t start, const float *mask, int64_t mask_stride,
                    int64_t mask_from, float scale, int64_t threads, float *q, float *out) {
    dp_rope_store(qkv, cos, sin, width, heads, kv_heads, d, q, cache, capacity, start);
    dp_attend(q, cache, kv_heads, heads / kv_heads, width, d, capacity, start + width, mask, mask_stride, mask_from,
              scale, threads, out);
}

/* ---- the whole stack of layers, matmuls included ---------------------------------------------

   Why: measured on a 2-core Xeon, the first Python step after each of a layer's four GEMMs costs
   15-30 us (the GEMM has streamed megabytes of weights through the caches the interpreter ran
   from), where the same C step after the same GEMM costs under 1 us. So where MKL is what runs the
   dense layers (engine.packed_gemm), the layers run here, calling MKL's own functions, and Python
   is left only the embedding and the LM head. The steps are native_layer_forward's, in its order. */

typedef void (*dp_sgemm_fn)(const char *, const char *, const int *, const int *, const int *, const float *,
                            const float *, const int *, const float *, const int *, const float *, float *, const int *);
typedef void (*dp_compute_fn)(const char *, const char *, const int *, const int *, const int *, const void *,
                              const int *, const float *, const int *, const float *, float *, const int *);

typedef struct {
    const float *weight;  /* [out, in], row-major */
    const void *packed;   /* MKL's packed copy, used from packed_from rows up */
    const float *bias;    /* [out] or NULL */
    int64_t out, in;
} dp_dense;

typedef struct {
    const float *attn_norm, *mlp_norm;
    dp_dense qkv, proj, gate_up, down;
    int64_t windowed;  /* attends through the window mask */
} dp_layer;

typedef struct {
    int64_t layers, heads, kv_heads, d, hidden, inter, packed_from;
    double eps;
    dp_sgemm_fn sgemm;
    dp_compute_fn compute;
    const dp_layer *layer;
    const float *final_norm;
} dp_model;

/* y [rows, out] = x [rows, in] @ weight.T + bias; column-major for MKL: y.T = weight @ x.T */
static void dense(const dp_model *m, const dp_dense *l, const float *x, int64_t rows, float *y) {
    const int M = (int)l->out, K = (int)l->in, N = (int)rows;
    const float one = 1.f, zero = 0.f;
    if (rows >= m->packed_from && l->packed)
        m->compute("P", "N", &M, &N, &K, l->packed, &K, x, &K, &zero, y, &M);
    else
        m->sgemm("T", "N", &M, &N, &K, &one, l->weight, &K, x, &K, &zero, y, &M);
    if (l->bias)
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t i = 0; i < M; ++i) y[r * M + i] += l->bias[i];
}

/* Every layer on x [width, hidden] (the residual stream, updated in place); h [width, hidden]
   comes back as RMSNorm(x) * the final norm, the LM head's input. cos, sin, the cache and start
   as dp_rope_store's (the cache is [layers, 2, kv_heads, capacity, d]). mask: the additive mask
   of keys mask_from.. for layers without a window (NULL: all visible); window_mask: the whole
   mask for windowed layers (NULL: all visible); both rows mask_stride apart. scratch holds
   width * (3 heads d + 2 kv_heads d + hidden + 3 inter) floats. */
void dp_forward(const dp_model *m, float *x, float *h, int64_t width, const float *cos, const float *sin,
                float *cache, int64_t capacity, int64_t start, const float *mask, int64_t mask_from,
                const float *window_mask, int64_t mask_stride, int64_t threads, float *scratch) {
    const int64_t heads = m->heads, kv_heads = m->kv_heads, d = m->d, hidden = m->hidden;
    const float eps = (float)m->eps, scale = 1.f / sqrtf((float)d);
    float *qkv = scratch, *q = qkv + width * (heads + 2 * kv_heads) * d, *attn = q + width * heads * d;
    float *delta = attn + width * heads * d, *gate_up = delta + width * hidden, *act = gate_up + width * 2 * m->inter;
    norm_rows(x, m->layer[0].attn_norm, eps, width, hidden, h);
    for (int64_t i = 0; i < m->layers; ++i) {
        const dp_layer *l = &m->layer[i];
        float *kv = cache + i * 2 * kv_heads * capacity * d;
        dense(m, &l->qkv, h, width, qkv);
        dp_rope_store(qkv, cos, sin, width, heads, kv_heads, d, q, kv, capacity, start);
        dp_attend(q, kv, kv_heads, heads / kv_heads, width, d, capacity, start + width,
                  l->windowed ? window_mask : mask, mask_stride, l->windowed ? 0 : mask_from, scale, threads, attn);
        dense(m, &l->proj, attn, width, delta);
        dp_add_rms_norm(x, delta, l->mlp_norm, eps, width, hidden, h);
        dense(m, &l->gate_up, h, width, gate_up);
        dp_silu_mul(gate_up, width, m->inter, threads, act);
        dense(m, &l->down, act, width, delta);
        dp_add_rms_norm(x, delta, i + 1 < m->layers ? m->layer[i + 1].attn_norm : m->final_norm, eps, width, hidden, h);
    }
}
