"""The eager engine's three layer products, in C when a compiler is at hand, else numpy: the
same sums in the same order either way, so the same bits.

| function | result | sum over, in order | starts from |
|---|---|---|---|
| `forward(W, X)` | out[j, i]: a layer's weighted sums | inputs q of W[j, q] * X[q, i] | 0.0 |
| `weight_grads(G, xt)` | T[j, q]: a weight's gradient over a batch | examples i of G[j, i] * xt[i, q] | -0.0 |
| `input_grads(W, G, acc)` | acc[q, i] += ..., in place | rows j of W[j, q] * G[j, i] | acc |

numpy computes them as rows of products summed row after row (a few calls per neuron: at
width 256 and a batch of 1000 they are half of an eager step). The C versions are the
compiled programs' kernels (compiler/dot_kernels.py: register tiles, separate IEEE multiplies
and adds, no FMA), built once into the compile cache on first use. No compiler, a cache that
cannot be written, or VALUEGRAD_EAGER_C=0: numpy, silently (only the speed differs).

    >>> import numpy as np
    >>> W, X = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([[0.5, 1.0], [2.0, -3.0]])
    >>> forward(W, X).tolist()
    [[4.5, -5.0], [-0.5, 6.0]]
    >>> bool((forward(W, X) == _forward_np(W, X)).all())
    True
"""
from __future__ import annotations

import ctypes
import os
import threading

import numpy as np

from . import ops

# Below this many products a layer stays in numpy: the C call's set-up (ctypes, scratch
# arrays) costs about as much as numpy's few calls on a small layer.
MIN_C_WORK = 1 << 13

_SOURCE = r"""
%(kernels)s
/* out[j B + i] = 0.0 + sum over q in order of W[j P + q] * X[q B + i]; bp: 8 P doubles */
void vg_e_fwd(const double *W, int m, int P, const double *X, int B, double *out, double *bp) {
  for (int i = 0; i < B; i += 8) {
    const int nb = B - i < 8 ? B - i : 8;
    for (int k = 0; k < P; k++) vg_pack8(bp + 8 * k, X + (long)k * B + i, nb);
    for (int j0 = 0; j0 < m; j0 += VG_MR) {
      const int rows = m - j0 < VG_MR ? m - j0 : VG_MR;
      const double *w[VG_MR]; double *o[VG_MR];
      for (int r = 0; r < VG_MR; r++) { int j = j0 + (r < rows ? r : 0); w[r] = W + (long)j * P; o[r] = out + (long)j * B + i; }
      vg_tile_rows(w, bp, P, o, rows, nb);
    }
  }
}
/* T[j n + q] = -0.0 + sum over i in order of G[j B + i] * xt[i n + q], by chunks of VG_KW
   examples whose sums wait in ws; ap: ceil(m / VG_MR) VG_MR VG_KW, bp: 8 VG_KW,
   ws: ceil(m / VG_MR) ceil(n / 8) 8 VG_MR doubles */
void vg_e_bwd_w(const double *G, int m, int B, const double *xt, int n, double *T, double *ap, double *bp, double *ws) {
  const int nj = (m + VG_MR - 1) / VG_MR, np = (n + 7) / 8;
  const vg_v4 mz = {-0.0, -0.0, -0.0, -0.0};
  for (int k0 = 0; k0 < B; k0 += VG_KW) {
    const int kn = B - k0 < VG_KW ? B - k0 : VG_KW, last = k0 + kn >= B;
    for (int jb = 0; jb < nj; jb++) {
      const double *x[VG_MR]; const int rows = m - jb * VG_MR < VG_MR ? m - jb * VG_MR : VG_MR;
      for (int r = 0; r < VG_MR; r++) x[r] = G + (long)(jb * VG_MR + (r < rows ? r : 0)) * B + k0;
      vg_pack_tr(ap + (long)jb * kn * VG_MR, x, rows, kn);
    }
    for (int qp = 0; qp < np; qp++) {
      const int nq = n - qp * 8 < 8 ? n - qp * 8 : 8;
      for (int k = 0; k < kn; k++) vg_pack8(bp + 8 * k, xt + (long)(k0 + k) * n + qp * 8, nq);
      for (int jb = 0; jb < nj; jb++) {
        vg_v4 *s = (vg_v4 *)(ws + ((long)jb * np + qp) * 8 * VG_MR), c[2 * VG_MR];
        for (int u = 0; u < 2 * VG_MR; u++) c[u] = k0 ? s[u] : mz;
        vg_kern(ap + (long)jb * kn * VG_MR, bp, kn, c);
        if (!last) { for (int u = 0; u < 2 * VG_MR; u++) s[u] = c[u]; continue; }
        for (int r = 0; r < VG_MR && jb * VG_MR + r < m; r++)
          for (int t = 0; t < nq; t++) T[(long)(jb * VG_MR + r) * n + qp * 8 + t] = c[2 * r + t / 4][t %% 4];
      }
    }
  }
}
/* acc[q B + i] += sum over j in order of W[j n + q] * G[j B + i] (from what acc holds);
   ap: ceil(n / VG_MR) VG_MR m, bp: 8 m doubles */
void vg_e_bwd_x(const double *W, int m, int n, const double *G, int B, double *acc, double *ap, double *bp) {
  const int nq = (n + VG_MR - 1) / VG_MR;
  for (int qb = 0; qb < nq; qb++) for (int k = 0; k < m; k++) for (int r = 0; r < VG_MR; r++)
    ap[((long)qb * m + k) * VG_MR + r] = qb * VG_MR + r < n ? W[(long)k * n + qb * VG_MR + r] : 0.0;
  for (int i = 0; i < B; i += 8) {
    const int nb = B - i < 8 ? B - i : 8;
    for (int k = 0; k < m; k++) vg_pack8(bp + 8 * k, G + (long)k * B + i, nb);
    for (int qb = 0; qb < nq; qb++) {
      double *o[VG_MR]; const int rows = n - qb * VG_MR < VG_MR ? n - qb * VG_MR : VG_MR;
      for (int r = 0; r < VG_MR; r++) o[r] = acc + (long)(qb * VG_MR + (r < rows ? r : 0)) * B + i;
      vg_tile(ap + (long)qb * m * VG_MR, bp, m, o, rows, nb, 1);
    }
  }
}
"""

_state = threading.local()  # tests switch C off per thread (`_state.off = True`)
_lock = threading.Lock()
# The kernels (or None) per setting of the variables that choose the compiler and the cache: a
# failed build under one setting (a broken VALUEGRAD_CC) does not stick to the others.
_ENV = ("VALUEGRAD_CC", "VALUEGRAD_CACHE", "XDG_CACHE_HOME")
_loaded = {}


class _Kernels:
    def __init__(self, lib, mr, kw):
        self.lib, self.mr, self.kw = lib, mr, kw

    def rows(self, k):
        """k rounded up to whole register tiles."""
        return -(-k // self.mr) * self.mr


def _lib():
    """The loaded kernels, or None (no compiler, a failed build, VALUEGRAD_EAGER_C=0)."""
    env = os.environ
    if getattr(_state, "off", False) or env.get("VALUEGRAD_EAGER_C", "").strip() == "0":
        return None
    key = tuple(map(env.get, _ENV))
    try:
        return _loaded[key]
    except KeyError:
        pass
    with _lock:
        if key not in _loaded:
            _loaded[key] = _build()
    return _loaded[key]


def _build():
    from .compiler import cache, c_backend, dot_kernels
    try:
        cc = c_backend.find_compiler()
        source = _SOURCE % {"kernels": dot_kernels.KERNELS}
        lib = cache.load(f"eager layer kernels\n{source}", cc, c_backend.CFLAGS, lambda: (source, {})).lib
    except (RuntimeError, OSError):  # no compiler, a failed compile, an unwritable cache
        return None
    p, i = ctypes.c_void_p, ctypes.c_int
    for name, types in (("vg_e_fwd", [p, i, i, p, i, p, p]), ("vg_e_bwd_w", [p, i, i, p, i, p, p, p, p]),
                        ("vg_e_bwd_x", [p, i, i, p, i, p, p, p])):
        getattr(lib, name).argtypes = types
        getattr(lib, name).restype = None
    return _Kernels(lib, dot_kernels.MR, dot_kernels.KC_W)


def _for(work):
    """The kernels for a layer of `work` products, None when numpy is to compute it."""
    return _lib() if work >= MIN_C_WORK else None


def _c_ready(*arrays):
    """The C-contiguous float64 versions of `arrays` (copies only where needed)."""
    return [np.ascontiguousarray(a, dtype=np.float64) for a in arrays]


def forward(W, X):
    """out[j, i] = 0.0 + W[j, 0] * X[0, i] + W[j, 1] * X[1, i] + ..., in that order.
    W: (m, P) weights, X: (P, B) inputs, one row per input (see the module's table)."""
    (m, P), B = W.shape, X.shape[1]
    k = _for(m * P * B)
    if k is None:
        return _forward_np(W, X)
    W, X = _c_ready(W, X)
    out, bp = np.empty((m, B)), np.empty(8 * P)
    k.lib.vg_e_fwd(W.ctypes.data, m, P, X.ctypes.data, B, out.ctypes.data, bp.ctypes.data)
    return out


def weight_grads(G, xt):
    """T[j, q] = G[j, 0] * xt[0, q] + G[j, 1] * xt[1, q] + ... (from -0.0): the weights'
    gradients of a layer over a batch. G: (m, B) the nodes' gradients, xt: (B, n) the inputs."""
    (m, B), n = G.shape, xt.shape[1]
    k = _for(m * n * B)
    if k is None:
        return _weight_grads_np(G, xt)
    G, xt = _c_ready(G, xt)
    kw = min(B, k.kw)
    T = np.empty((m, n))
    ap, bp, ws = np.empty(k.rows(m) * kw), np.empty(8 * kw), np.empty(k.rows(m) * -(-n // 8) * 8)
    k.lib.vg_e_bwd_w(G.ctypes.data, m, B, xt.ctypes.data, n, T.ctypes.data, ap.ctypes.data, bp.ctypes.data,
                   ws.ctypes.data)
    return T


def input_grads(W, G, acc):
    """acc[q, i] + W[0, q] * G[0, i] + W[1, q] * G[1, i] + ..., in that order, written into
    acc (n, B: C-contiguous float64) and returned. W: (m, n), G: (m, B)."""
    (m, n), B = W.shape, G.shape[1]
    k = _for(m * n * B) if acc.flags.c_contiguous and acc.dtype == np.float64 else None
    if k is None:
        return _input_grads_np(W, G, acc)
    W, G = _c_ready(W, G)
    ap, bp = np.empty(k.rows(n) * m), np.empty(8 * m)
    k.lib.vg_e_bwd_x(W.ctypes.data, m, n, G.ctypes.data, B, acc.ctypes.data, ap.ctypes.data, bp.ctypes.data)
    return acc


# -- numpy: rows of products, summed row after row (ops._sum_rows) ------------------------------

_BLOCK = 1 << 16  # numbers in one product array: big enough to pay numpy's call, small for the cache


def _forward_np(W, X):
    k, n = W.shape
    out = np.empty((k, X.shape[1]))
    step = max(1, _BLOCK // max(1, n * X.shape[1]))
    if step == 1 and X.shape[1] > 1:  # big rows: one reused buffer, no new array per row
        p = np.empty(X.shape)
        for j in range(k):
            np.multiply(W[j][:, None], X, out=p)
            p[0] += 0.0
            np.add.reduce(p, axis=0, initial=-0.0, out=out[j])
        return out
    WT = np.ascontiguousarray(W.T)
    for j in range(0, k, step):
        p = WT[:, j:j + step, None] * X[:, None, :]  # (n, rows, batch): products, input by input
        p[0] += 0.0
        out[j:j + step] = ops._sum_rows(p)
    return out


def _weight_grads_np(G, xt):
    m = len(G)
    batch, n = xt.shape
    T = np.empty((m, n))
    step = max(1, _BLOCK // (batch * n))
    if step == 1 and n > 1:  # big layers: node by node in one reused buffer
        p = np.empty((batch, n))
        for j in range(m):
            np.multiply(G[j][:, None], xt, out=p)
            np.add.reduce(p, axis=0, initial=-0.0, out=T[j])  # = ops._sum_rows(p)
    else:
        GT = np.ascontiguousarray(G.T)
        for j in range(0, m, step):
            T[j:j + step] = ops._sum_rows(GT[:, j:j + step, None] * xt[:, None, :])
    return T


def _input_grads_np(W, G, acc):
    m, n = W.shape
    batch = G.shape[1]
    step = max(1, _BLOCK // (batch * n))
    for j in range(0, m, step):
        p = W[j:j + step, :, None] * G[j:j + step, None, :]
        p[0] += acc  # acc + p[0]: the same sum, one term on
        acc[...] = ops._sum_rows(p) if len(p) > 1 else p[0]
    return acc


