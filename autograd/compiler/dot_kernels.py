"""The C kernels of a layer of dot nodes (structured.py emits one call per layer and pass).

All three passes are one product, C[r][c] = C0[r][c] + sum over k in order of A[r][k] * B[k][c]:

| pass | rows r | columns c | steps k, in order | C0 |
|---|---|---|---|---|
| forward | neurons j | examples i | inputs q | 0 |
| inputs' gradient | inputs q | examples i | neurons j, last first (the eager sweep) | the gradient so far |
| weights' gradient | neurons j | inputs q | examples i | 0, then added to the gradient |

so every sum keeps the eager engine's order: the kernels only choose which sums run side by
side. Both operands are first copied ("packed") into the order the inner loop reads them: A as
VG_MR rows side by side per step, B as 8 columns side by side per step, padded with zeros to
whole blocks (the padding's sums are computed and dropped). The inner loop then keeps a tile of
VG_MR x 8 sums in registers (twelve vectors of four doubles) and reads only contiguous memory.
Multiplies and adds stay separate IEEE operations (no FMA: -ffp-contract=off).

Vectors are GCC/clang vector extensions (elementwise arithmetic, so the bits do not depend on
the vector width): with -mavx2 one instruction per four doubles, without it two.

    >>> "vg_dot_fwd" in KERNELS and "vg_dot_bwd_x" in KERNELS and "vg_dot_bwd_w" in KERNELS
    True
"""
from __future__ import annotations

MR = 6  # rows of a register tile (VG_MR): 6 x 8 doubles, 12 vector sums, 2 + 6 loads a step
KC_W = 128  # examples per chunk of the weights' gradient (VG_KW): its packed rows stay in L2


def scratch_sizes(m, B, P):
    """Sizes of the packed operands (VG_AP, VG_BP) and the weight-gradient sums (VG_WS) the
    kernels of one layer (m neurons, B examples, P inputs) need."""
    rows = -(-max(m, P) // MR) * MR
    kw = min(B, KC_W)
    ap = max(rows * max(P, m), -(-m // MR) * MR * kw)
    bp = 8 * max(P, m, kw)
    ws = -(-m // MR) * MR * (-(-P // 8) * 8)
    return ap, bp, ws


KERNELS = r"""
#define VG_MR %(mr)d
#define VG_KW %(kw)d
typedef double vg_v4 __attribute__((vector_size(32), aligned(8)));
#define VG_LD(p) (*(const vg_v4 *)(p))
#define VG_ST(p, v) (*(vg_v4 *)(p) = (v))
static const vg_v4 VG_Z = {0.0, 0.0, 0.0, 0.0};
/* o[8 k + t] = x_t[k] for k, t < 4: four rows of four doubles transposed (moves only; vector
   shuffles of the compiler, not <immintrin.h>, whose parsing alone costs 0.5 s a compile) */
#if defined(__clang__)
#define VG_SHUF(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#else
typedef long long vg_i4 __attribute__((vector_size(32)));
#define VG_SHUF(a, b, i, j, k, l) __builtin_shuffle(a, b, (vg_i4){i, j, k, l})
#endif
static inline void vg_t4(const double *x0, const double *x1, const double *x2, const double *x3, double *o) {
  vg_v4 r0 = VG_LD(x0), r1 = VG_LD(x1), r2 = VG_LD(x2), r3 = VG_LD(x3);
  vg_v4 t0 = VG_SHUF(r0, r1, 0, 4, 2, 6), t1 = VG_SHUF(r0, r1, 1, 5, 3, 7);
  vg_v4 t2 = VG_SHUF(r2, r3, 0, 4, 2, 6), t3 = VG_SHUF(r2, r3, 1, 5, 3, 7);
  VG_ST(o, VG_SHUF(t0, t2, 0, 1, 4, 5)); VG_ST(o + 8, VG_SHUF(t1, t3, 0, 1, 4, 5));
  VG_ST(o + 16, VG_SHUF(t0, t2, 2, 3, 6, 7)); VG_ST(o + 24, VG_SHUF(t1, t3, 2, 3, 6, 7));
}

/* the finiteness of what the kernels' epilogues wrote: x * 0.0 is +-0 for a finite x and NaN
   otherwise, and a NaN survives every later sum */
static vg_v4 VG_FIN;
static inline vg_v4 vg_fin8(const double *p) { return VG_LD(p) * 0.0 + VG_LD(p + 4) * 0.0; }
static inline int vg_fin_ok(void) { double s = (VG_FIN[0] + VG_FIN[1]) + (VG_FIN[2] + VG_FIN[3]); return s == s; }

/* c[2 r + h][u] += A[k][r] * Bp[k][4 h + u] for the steps k in order: a tile of VG_MR x 8 sums.
   Out of line (as the functions below): one copy per program, whatever its layers (compile time) */
static __attribute__((noinline)) void vg_kern(const double *A, const double *Bp, int K, vg_v4 *c) {
  vg_v4 acc[VG_MR][2];
  for (int r = 0; r < VG_MR; r++) { acc[r][0] = c[2 * r]; acc[r][1] = c[2 * r + 1]; }
  for (int k = 0; k < K; k++) {
    vg_v4 x = VG_LD(Bp + 8 * k), y = VG_LD(Bp + 8 * k + 4);
    for (int r = 0; r < VG_MR; r++) { double w = A[VG_MR * k + r]; acc[r][0] = acc[r][0] + w * x; acc[r][1] = acc[r][1] + w * y; }
  }
  for (int r = 0; r < VG_MR; r++) { c[2 * r] = acc[r][0]; c[2 * r + 1] = acc[r][1]; }
}
/* a tile whose rows r < rows sit at o[r] (columns t < nb): from 0.0 or from what o holds. Its
   rows are hundreds of lines apart: their next lines are fetched ahead */
static __attribute__((noinline)) void vg_tile(const double *A, const double *Bp, int K, double *const *o, int rows, int nb, int from_o) {
  vg_v4 c[2 * VG_MR];
  for (int r = 0; r < VG_MR; r++) {
    if (from_o && r < rows && nb == 8) { c[2 * r] = VG_LD(o[r]); c[2 * r + 1] = VG_LD(o[r] + 4); }
    else for (int t = 0; t < 8; t++) c[2 * r + t / 4][t %% 4] = from_o && r < rows && t < nb ? o[r][t] : 0.0;
  }
  for (int r = 0; r < rows; r++) __builtin_prefetch(o[r] + 16, 1, 3);  /* the next tile but one's rows */
  vg_kern(A, Bp, K, c);
  for (int r = 0; r < rows; r++) {
    if (nb == 8) { VG_ST(o[r], c[2 * r]); VG_ST(o[r] + 4, c[2 * r + 1]); }
    else for (int t = 0; t < nb; t++) o[r][t] = c[2 * r + t / 4][t %% 4];
  }
}
/* as vg_tile, A read in place: row r's steps at w[r][0..K) (a layer's weight rows, contiguous in
   the forward pass): no packing pass over the weights, which costs the most when the batch is small */
static __attribute__((noinline)) void vg_tile_rows(const double *const *w, const double *Bp, int K, double *const *o, int rows, int nb) {
  vg_v4 acc[VG_MR][2];
  for (int r = 0; r < VG_MR; r++) { acc[r][0] = VG_Z; acc[r][1] = VG_Z; }
  for (int r = 0; r < rows; r++) __builtin_prefetch(o[r] + 16, 1, 3);
  for (int k = 0; k < K; k++) {
    vg_v4 x = VG_LD(Bp + 8 * k), y = VG_LD(Bp + 8 * k + 4);
    for (int r = 0; r < VG_MR; r++) { double v = w[r][k]; acc[r][0] = acc[r][0] + v * x; acc[r][1] = acc[r][1] + v * y; }
  }
  for (int r = 0; r < rows; r++) {
    if (nb == 8) { VG_ST(o[r], acc[r][0]); VG_ST(o[r] + 4, acc[r][1]); }
    else for (int t = 0; t < nb; t++) o[r][t] = acc[r][t / 4][t %% 4];
  }
}
/* one step of the B operand: bp[0..8) = x[0..nb), zeros after */
static inline void vg_pack8(double *bp, const double *x, int nb) {
  __builtin_prefetch(x + 16, 0, 3);  /* hundreds of rows read 64 bytes at a time: more streams than the
                                        hardware prefetcher follows */
  if (nb == 8) { VG_ST(bp, VG_LD(x)); VG_ST(bp + 4, VG_LD(x + 4)); }
  else for (int t = 0; t < 8; t++) bp[t] = t < nb ? x[t] : 0.0;
}
/* transposed: bp[8 k + t] = x[t][k] (zeros for t >= n), and ap[VG_MR k + t] likewise */
static __attribute__((noinline)) void vg_pack_t8(double *bp, const double *const *x, int n, int K) {
  int k = 0;
  if (n == 8) for (; k + 4 <= K; k += 4) {
    vg_t4(x[0] + k, x[1] + k, x[2] + k, x[3] + k, bp + 8 * k);
    vg_t4(x[4] + k, x[5] + k, x[6] + k, x[7] + k, bp + 8 * k + 4); }
  for (double *b = bp + 8 * k; k < K; k++, b += 8) for (int t = 0; t < 8; t++) b[t] = t < n ? x[t][k] : 0.0;
}
static __attribute__((noinline)) void vg_pack_tr(double *ap, const double *const *x, int n, int K) {
  for (int k = 0; k < K; k++) for (int t = 0; t < VG_MR; t++) ap[VG_MR * k + t] = t < n ? x[t][k] : 0.0;
}

/* forward: M[base + j B + i] = sum over q in order of W[j][q] * X[q][i], W[j][q] at M[wa(j, q)],
   X[q] at M + xa(q). The weights are packed once; each 8 examples' inputs once, then every
   block of rows passes over them; ep(j0, rows, i0, nb) runs on each tile written. direct: the
   weights W[j][0..P) are contiguous (wa(j, q) = wa(j, 0) + q) and read in place. */
#define vg_dot_fwd(M, m, B, P, base, wa, xa, ep, direct) do { \
  const int nj = ((m) + VG_MR - 1) / VG_MR; \
  if (!(direct)) for (int jb = 0; jb < nj; jb++) for (int k = 0; k < (P); k++) for (int r = 0; r < VG_MR; r++) \
    VG_AP[(jb * (P) + k) * VG_MR + r] = jb * VG_MR + r < (m) ? M[wa(jb * VG_MR + r, k)] : 0.0; \
  for (int i = 0; i < (B); i += 8) { \
    const int nb = (B) - i < 8 ? (B) - i : 8; \
    for (int k = 0; k < (P); k++) vg_pack8(VG_BP + 8 * k, M + xa(k) + i, nb); \
    for (int jb = 0; jb < nj; jb++) { \
      double *o[VG_MR]; const int rows = (m) - jb * VG_MR < VG_MR ? (m) - jb * VG_MR : VG_MR; \
      for (int r = 0; r < VG_MR; r++) o[r] = M + (base) + (jb * VG_MR + (r < rows ? r : 0)) * (B) + i; \
      if (direct) { const double *w[VG_MR]; \
        for (int r = 0; r < VG_MR; r++) w[r] = M + wa(jb * VG_MR + (r < rows ? r : 0), 0); \
        vg_tile_rows(w, VG_BP, (P), o, rows, nb); } \
      else vg_tile(VG_AP + jb * (P) * VG_MR, VG_BP, (P), o, rows, nb, 0); \
      ep(jb * VG_MR, rows, i, nb); } } \
} while (0)

/* inputs' gradient: GM[xa(q) + i] (+)= sum over the rows j from last to first of
   W[j][q] * G[j][i], G[j] at GM + base + j B. F: nothing was added to it yet, so the sums start
   from 0.0 (the bits of adding to a zeroed array, which then need not be zeroed). */
#define vg_dot_bwd_x(M, GM, F, m, B, P, base, wa, xa) do { \
  const int nq = ((P) + VG_MR - 1) / VG_MR; \
  for (int qb = 0; qb < nq; qb++) for (int k = 0; k < (m); k++) for (int r = 0; r < VG_MR; r++) \
    VG_AP[(qb * (m) + k) * VG_MR + r] = qb * VG_MR + r < (P) ? M[wa((m) - 1 - k, qb * VG_MR + r)] : 0.0; \
  for (int i = 0; i < (B); i += 8) { \
    const int nb = (B) - i < 8 ? (B) - i : 8; \
    for (int k = 0; k < (m); k++) vg_pack8(VG_BP + 8 * k, GM + (base) + ((m) - 1 - k) * (B) + i, nb); \
    for (int qb = 0; qb < nq; qb++) { \
      double *o[VG_MR]; const int rows = (P) - qb * VG_MR < VG_MR ? (P) - qb * VG_MR : VG_MR; \
      for (int r = 0; r < VG_MR; r++) o[r] = GM + xa(qb * VG_MR + (r < rows ? r : 0)) + i; \
      vg_tile(VG_AP + qb * (m) * VG_MR, VG_BP, (m), o, rows, nb, !(F)); } } \
} while (0)

/* weights' gradient: GM[wa(j, q)] += sum over the examples i in order of G[j][i] * X[q][i],
   by chunks of VG_KW examples (the sums wait in VG_WS between chunks); added as vectors where
   eight weights of a row sit side by side (the address functions are affine: a constant test). */
#define vg_dot_bwd_w(M, GM, m, B, P, base, wa, xa) do { \
  const int nj = ((m) + VG_MR - 1) / VG_MR, np = ((P) + 7) / 8; \
  for (int k0 = 0; k0 < (B); k0 += VG_KW) { \
    const int kn = (B) - k0 < VG_KW ? (B) - k0 : VG_KW, last = k0 + kn >= (B); \
    for (int jb = 0; jb < nj; jb++) { \
      const double *x[VG_MR]; const int n = (m) - jb * VG_MR < VG_MR ? (m) - jb * VG_MR : VG_MR; \
      for (int r = 0; r < VG_MR; r++) x[r] = GM + (base) + (jb * VG_MR + (r < n ? r : 0)) * (B) + k0; \
      vg_pack_tr(VG_AP + jb * kn * VG_MR, x, n, kn); } \
    for (int qp = 0; qp < np; qp++) { \
      const double *x[8]; const int n = (P) - qp * 8 < 8 ? (P) - qp * 8 : 8; \
      for (int t = 0; t < 8; t++) x[t] = M + xa(qp * 8 + (t < n ? t : 0)) + k0; \
      vg_pack_t8(VG_BP, x, n, kn); \
      for (int jb = 0; jb < nj; jb++) { \
        vg_v4 *s = (vg_v4 *)(VG_WS + (jb * np + qp) * 8 * VG_MR), c[2 * VG_MR]; \
        for (int u = 0; u < 2 * VG_MR; u++) c[u] = k0 ? s[u] : VG_Z; \
        vg_kern(VG_AP + jb * kn * VG_MR, VG_BP, kn, c); \
        if (!last) { for (int u = 0; u < 2 * VG_MR; u++) s[u] = c[u]; continue; } \
        for (int r = 0; r < VG_MR && jb * VG_MR + r < (m); r++) { \
          const int j = jb * VG_MR + r, q = qp * 8, w = wa(j, q); \
          if (q + 8 <= (P) && wa(j, q + 1) == w + 1 && wa(j, q + 2) == w + 2 && wa(j, q + 3) == w + 3 \
              && wa(j, q + 4) == w + 4 && wa(j, q + 5) == w + 5 && wa(j, q + 6) == w + 6 && wa(j, q + 7) == w + 7) { \
            VG_ST(GM + w, VG_LD(GM + w) + c[2 * r]); VG_ST(GM + w + 4, VG_LD(GM + w + 4) + c[2 * r + 1]); continue; } \
          for (int t = 0; t < 8 && q + t < (P); t++) GM[wa(j, q + t)] += c[2 * r + t / 4][t %% 4]; } } } } \
} while (0)
""" % {"mr": MR, "kw": KC_W}
