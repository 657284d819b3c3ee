/*
 * gemm.c -- C[m x n] += A[m x k] @ B[k x n] for float64 and float32, all
 * C-contiguous: the inner kernel of the matrix product (matmul.c).
 *
 * On processors with AVX2 and FMA, tiles of 4 rows by 2 vectors of C stay
 * in registers while the shared dimension is walked: per step, two loads
 * of a row of B and four broadcasts of A feed eight fused multiply-adds.
 * The kernel is compiled for AVX2 with a target attribute and chosen at run
 * time (__builtin_cpu_supports), so one build runs everywhere.  Elsewhere,
 * and for the edge rows and columns of a tile, the plain i-k-j loop runs.
 * Each element of C is a sum over the shared dimension in order, as in the
 * plain loop; the AVX2 kernel rounds each multiply-add once.
 */
#include "engine_impl.h"

/* The plain loops, with leading dimensions so they also serve the edges
 * of the vector kernels. */
#define GEMM_PLAIN(NAME, T)                                                  \
    static void NAME(const T *A, int64_t lda, const T *B, int64_t ldb, T *C, \
                     int64_t ldc, int64_t m, int64_t k, int64_t n)           \
    {                                                                        \
        for (int64_t i = 0; i < m; i++) {                                    \
            T *c = C + i * ldc;                                              \
            for (int64_t p = 0; p < k; p++) {                                \
                const T av = A[i * lda + p];                                 \
                const T *b = B + p * ldb;                                    \
                for (int64_t j = 0; j < n; j++) {                            \
                    c[j] = c[j] + av * b[j];                                 \
                }                                                            \
            }                                                                \
        }                                                                    \
    }
GEMM_PLAIN(plain_f64, double)
GEMM_PLAIN(plain_f32, float)

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

/* VT: the vector type, W: elements per vector; LOAD, STORE, BCAST, FMA:
 * its intrinsics. */
#define GEMM_AVX2(NAME, T, VT, W, LOAD, STORE, BCAST, FMA, PLAIN)              \
    AVX2 static void NAME(const T *A, const T *B, T *C, int64_t m, int64_t k,  \
                          int64_t n)                                           \
    {                                                                          \
        int64_t m4 = m - m % 4, n2 = n - n % (2 * W);                          \
        for (int64_t i = 0; i < m4; i += 4) {                                  \
            const T *a0 = A + i * k, *a1 = a0 + k, *a2 = a1 + k, *a3 = a2 + k; \
            T *c0 = C + i * n, *c1 = c0 + n, *c2 = c1 + n, *c3 = c2 + n;       \
            for (int64_t j = 0; j < n2; j += 2 * W) {                          \
                VT x00 = LOAD(c0 + j), x01 = LOAD(c0 + j + W);                 \
                VT x10 = LOAD(c1 + j), x11 = LOAD(c1 + j + W);                 \
                VT x20 = LOAD(c2 + j), x21 = LOAD(c2 + j + W);                 \
                VT x30 = LOAD(c3 + j), x31 = LOAD(c3 + j + W);                 \
                const T *b = B + j;                                            \
                for (int64_t p = 0; p < k; p++, b += n) {                      \
                    VT b0 = LOAD(b), b1 = LOAD(b + W), v;                      \
                    v = BCAST(a0 + p);                                         \
                    x00 = FMA(v, b0, x00);                                     \
                    x01 = FMA(v, b1, x01);                                     \
                    v = BCAST(a1 + p);                                         \
                    x10 = FMA(v, b0, x10);                                     \
                    x11 = FMA(v, b1, x11);                                     \
                    v = BCAST(a2 + p);                                         \
                    x20 = FMA(v, b0, x20);                                     \
                    x21 = FMA(v, b1, x21);                                     \
                    v = BCAST(a3 + p);                                         \
                    x30 = FMA(v, b0, x30);                                     \
                    x31 = FMA(v, b1, x31);                                     \
                }                                                              \
                STORE(c0 + j, x00);                                            \
                STORE(c0 + j + W, x01);                                        \
                STORE(c1 + j, x10);                                            \
                STORE(c1 + j + W, x11);                                        \
                STORE(c2 + j, x20);                                            \
                STORE(c2 + j + W, x21);                                        \
                STORE(c3 + j, x30);                                            \
                STORE(c3 + j + W, x31);                                        \
            }                                                                  \
        }                                                                      \
        if (n2 < n) { /* the columns right of the tiles, rows m4 above */      \
            PLAIN(A, k, B + n2, n, C + n2, n, m4, k, n - n2);                  \
        }                                                                      \
        if (m4 < m) { /* the last rows, every column */                        \
            PLAIN(A + m4 * k, k, B, n, C + m4 * n, n, m - m4, k, n);           \
        }                                                                      \
    }
GEMM_AVX2(avx2_f64, double, __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd,
          _mm256_broadcast_sd, _mm256_fmadd_pd, plain_f64)
GEMM_AVX2(avx2_f32, float, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps,
          _mm256_broadcast_ss, _mm256_fmadd_ps, plain_f32)

static bool
have_avx2_fma(void)
{
    static int known = -1; /* benign race: every thread stores the same */
    int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (k < 0) {
        __builtin_cpu_init();
        k = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        __atomic_store_n(&known, k, __ATOMIC_RELAXED);
    }
    return k;
}
#endif

void
cw__gemm_f64(const double *A, const double *B, double *C, int64_t m, int64_t k,
             int64_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (have_avx2_fma()) {
        avx2_f64(A, B, C, m, k, n);
        return;
    }
#endif
    plain_f64(A, k, B, n, C, n, m, k, n);
}

void
cw__gemm_f32(const float *A, const float *B, float *C, int64_t m, int64_t k, int64_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (have_avx2_fma()) {
        avx2_f32(A, B, C, m, k, n);
        return;
    }
#endif
    plain_f32(A, k, B, n, C, n, m, k, n);
}
