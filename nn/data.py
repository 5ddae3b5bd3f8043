"""Data sets, splitting, scaling and batching for valuegrad (numpy only).

>>> from nn.data import make_moons, train_test_split, StandardScaler
>>> X, y = make_moons(100, noise=0.1, random_state=0)
>>> X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=0)
>>> sc = StandardScaler().fit(X_tr)
>>> sc.transform(X_te).shape
(20, 2)
"""

import gzip
import hashlib
import math
import numbers
import pathlib

import numpy as np

__all__ = [
    "DataFormatError",
    "NotFittedError",
    "make_moons",
    "parse_wisconsin",
    "load_breast_cancer_wisconsin",
    "parse_digits",
    "load_digits",
    "train_test_split",
    "StandardScaler",
    "MinMaxScaler",
    "minibatches",
    "one_hot",
    "DATASETS_DIR",
    "WISCONSIN_FEATURE_NAMES",
]

DATASETS_DIR = pathlib.Path(__file__).parent / "datasets"

WISCONSIN_PATH = DATASETS_DIR / "breast-cancer-wisconsin.data"
WISCONSIN_SHA256 = "402c585309c399237740f635ef9919dc512cca12cbeb20de5e563a4593f22b64"
DIGITS_PATH = DATASETS_DIR / "optdigits-test-1797.csv.gz"
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"

WISCONSIN_FIELDS = (
    "Sample code number",
    "Clump Thickness",
    "Uniformity of Cell Size",
    "Uniformity of Cell Shape",
    "Marginal Adhesion",
    "Single Epithelial Cell Size",
    "Bare Nuclei",
    "Bland Chromatin",
    "Normal Nucleoli",
    "Mitoses",
    "Class",
)
WISCONSIN_FEATURE_NAMES = WISCONSIN_FIELDS[1:10]
_WISCONSIN_MISSING_FIELD = 7  # 1-based: Bare Nuclei is the only column UCI leaves blank

DIGITS_FIELDS = tuple(
    f"pixel (row {r}, column {c})" for r in range(1, 9) for c in range(1, 9)
) + ("digit",)


class NotFittedError(ValueError, AttributeError):
    """A scaler's ``transform`` or ``inverse_transform`` was called before ``fit``."""


class DataFormatError(ValueError):
    """A data file has a malformed line.

    Attributes ``path``, ``line`` and ``field`` (1-based), ``field_name`` and
    ``text`` (the offending text) say exactly where; ``field`` and
    ``field_name`` are None for a problem with the whole file.
    """

    def __init__(self, path, line, field, field_name, text, problem):
        self.path = str(path)
        self.line = line
        self.field = field
        self.field_name = field_name
        self.text = text
        self.problem = problem
        where = f"{self.path}"
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field {field} ({field_name})"
        super().__init__(f"{where}: {problem}: {text!r}")


def _sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def _verify_sha256(path, expected):
    # The files are tiny (<60 kB), so checking on every load costs ~0.1 ms
    # and turns a corrupted or edited copy into a clear error instead of
    # silently different numbers.
    got = _sha256(path)
    if got != expected:
        raise DataFormatError(
            path, None, None, None, got,
            f"sha256 mismatch (the shipped file was changed): expected {expected}, got",
        )


def _check_random_state(seed):
    """Same contract as sklearn.utils.check_random_state (needed for make_moons parity)."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(
        f"random_state must be None, an int or a numpy.random.RandomState, got {seed!r}"
    )


def _rng(seed):
    """Like _check_random_state, but also accepts a numpy.random.Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    return _check_random_state(seed)


# ---------------------------------------------------------------------------
# make_moons


def make_moons(n_samples=100, *, noise=None, random_state=None, shuffle=True):
    """Two interleaving half circles; bitwise equal to sklearn's ``make_moons``.

    ``n_samples`` is the total (int) or ``(n_outer, n_inner)``. ``random_state``
    is None (the global ``np.random`` state, as in sklearn), an int or a
    ``np.random.RandomState``. Returns ``X`` (n, 2) float64 and ``y`` (n,) intp
    (int64 on 64-bit platforms); label 0 is the outer moon.

    >>> X, y = make_moons(6, random_state=0, shuffle=False)
    >>> y.tolist()
    [0, 0, 0, 1, 1, 1]
    """
    if isinstance(n_samples, numbers.Integral) and not isinstance(n_samples, bool):
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        n_samples_out = int(n_samples) // 2
        n_samples_in = int(n_samples) - n_samples_out
    elif isinstance(n_samples, (tuple, list)) and len(n_samples) == 2:
        for k in n_samples:
            if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 0:
                raise ValueError(
                    f"n_samples as a pair must hold two ints >= 0, got {n_samples!r}"
                )
        n_samples_out, n_samples_in = (int(k) for k in n_samples)
    else:
        raise ValueError(
            f"n_samples must be an int or a pair (n_outer, n_inner), got {n_samples!r}"
        )
    if noise is not None:
        if not isinstance(noise, numbers.Real) or isinstance(noise, bool) or not noise >= 0:
            raise ValueError(f"noise must be None or a real number >= 0, got {noise!r}")

    generator = _check_random_state(random_state)

    # Same expressions, in the same order, as sklearn 1.9 so the floats and
    # the RNG stream match bit for bit.
    outer_circ_x = np.cos(np.linspace(0, np.pi, n_samples_out))
    outer_circ_y = np.sin(np.linspace(0, np.pi, n_samples_out))
    inner_circ_x = 1 - np.cos(np.linspace(0, np.pi, n_samples_in))
    inner_circ_y = 1 - np.sin(np.linspace(0, np.pi, n_samples_in)) - 0.5

    X = np.vstack(
        [np.append(outer_circ_x, inner_circ_x), np.append(outer_circ_y, inner_circ_y)]
    ).T
    y = np.hstack(
        [np.zeros(n_samples_out, dtype=np.intp), np.ones(n_samples_in, dtype=np.intp)]
    )

    if shuffle:
        # sklearn.utils.shuffle -> resample(replace=False): an in-place
        # shuffle of arange(n), then fancy indexing.
        indices = np.arange(X.shape[0])
        generator.shuffle(indices)
        X, y = X[indices], y[indices]

    if noise is not None:
        X += generator.normal(scale=noise, size=X.shape)

    return X, y


# ---------------------------------------------------------------------------
# File parsing


def _read_lines(path):
    path = pathlib.Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        bad = raw[e.start : e.start + 1]
        raise DataFormatError(path, line, None, None, bad, "not ASCII text") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _split_fields(path, lineno, line, names):
    fields = line.split(",")
    n = len(names)
    if len(fields) != n:
        if len(fields) < n:
            k = len(fields) + 1
            problem = f"missing; expected {n} comma-separated fields, got {len(fields)}"
            field_name = names[k - 1]
        else:
            k = n + 1
            problem = f"unexpected extra field; expected {n} comma-separated fields, got {len(fields)}"
            field_name = f"after {names[-1]}"
        raise DataFormatError(path, lineno, k, field_name, line, problem)
    return fields


def _parse_int(path, lineno, k, name, text, lo, hi):
    # isdigit() alone would accept non-ASCII digits; int() alone would accept
    # '+5', ' 5' and '1_0'. Data files here hold plain unsigned decimals only.
    if not (text.isascii() and text.isdigit()):
        raise DataFormatError(path, lineno, k, name, text, "not an unsigned integer")
    value = int(text)
    if lo is not None and not lo <= value <= hi:
        raise DataFormatError(
            path, lineno, k, name, text, f"value out of range {lo}-{hi}"
        )
    return value


def parse_wisconsin(path):
    """Parse a file in the UCI Breast Cancer Wisconsin (Original) format.

    Returns ``(ids, X, y)``: ids int64 (n,), X float64 (n, 9) with NaN where the
    file has ``?`` (allowed only in field 7, Bare Nuclei), y int64 (n,) with
    class 2 (benign) -> 0 and 4 (malignant) -> 1. Any malformed line raises
    :class:`DataFormatError` naming the file, line, field and bad text.

    >>> ids, X, y = parse_wisconsin(WISCONSIN_PATH)
    >>> X.shape, int(np.isnan(X).sum())
    ((699, 9), 16)
    """
    lines = _read_lines(path)
    if not lines:
        raise DataFormatError(path, None, None, None, "", "file has no data lines")
    ids = np.empty(len(lines), dtype=np.int64)
    X = np.empty((len(lines), 9), dtype=np.float64)
    y = np.empty(len(lines), dtype=np.int64)
    names = WISCONSIN_FIELDS
    for i, line in enumerate(lines):
        lineno = i + 1
        fields = _split_fields(path, lineno, line, names)
        ids[i] = _parse_int(path, lineno, 1, names[0], fields[0], None, None)
        for j in range(1, 10):
            text = fields[j]
            if text == "?":
                if j + 1 != _WISCONSIN_MISSING_FIELD:
                    raise DataFormatError(
                        path, lineno, j + 1, names[j], text,
                        f"missing value '?' is only allowed in field "
                        f"{_WISCONSIN_MISSING_FIELD} ({names[_WISCONSIN_MISSING_FIELD - 1]})",
                    )
                X[i, j - 1] = np.nan
            else:
                X[i, j - 1] = _parse_int(path, lineno, j + 1, names[j], text, 1, 10)
        cls = fields[10]
        if cls not in ("2", "4"):
            raise DataFormatError(
                path, lineno, 11, names[10], cls, "class must be 2 (benign) or 4 (malignant)"
            )
        y[i] = 0 if cls == "2" else 1
    return ids, X, y


def load_breast_cancer_wisconsin(missing="drop", *, return_ids=False):
    """Load the shipped UCI Breast Cancer Wisconsin (Original) data, 699 rows.

    Features are the 9 cytology scores 1-10 (float64, names in
    ``WISCONSIN_FEATURE_NAMES``); the sample id (not unique) is not a feature.
    Labels: 0 = benign, 1 = malignant (int64). 16 rows lack Bare Nuclei:
    ``missing='drop'`` removes them (683 rows, file order kept);
    ``missing='impute'`` fills them with the median Bare Nuclei of the 683
    complete rows (1.0). ``return_ids=True`` also returns the ids.

    >>> X, y = load_breast_cancer_wisconsin()
    >>> X.shape, int(y.sum())
    ((683, 9), 239)
    """
    if missing not in ("drop", "impute"):
        raise ValueError(f"missing must be 'drop' or 'impute', got {missing!r}")
    _verify_sha256(WISCONSIN_PATH, WISCONSIN_SHA256)
    ids, X, y = parse_wisconsin(WISCONSIN_PATH)
    incomplete = np.isnan(X).any(axis=1)
    if missing == "drop":
        keep = ~incomplete
        ids, X, y = ids[keep], X[keep], y[keep]
    else:
        col = _WISCONSIN_MISSING_FIELD - 2  # 1-based field -> 0-based feature
        median = np.median(X[~incomplete, col])
        X[np.isnan(X[:, col]), col] = median
    return (X, y, ids) if return_ids else (X, y)


def parse_digits(path):
    """Parse an optdigits-style CSV (plain or ``.gz``): 64 pixels 0-16, then a digit 0-9.

    Returns ``(X float64 (n, 64), y int64 (n,))``; malformed lines raise
    :class:`DataFormatError` naming the file, line, field and bad text.

    >>> X, y = parse_digits(DIGITS_PATH)
    >>> X.shape
    (1797, 64)
    """
    lines = _read_lines(path)
    if not lines:
        raise DataFormatError(path, None, None, None, "", "file has no data lines")
    data = np.empty((len(lines), 65), dtype=np.int64)
    names = DIGITS_FIELDS
    for i, line in enumerate(lines):
        fields = _split_fields(path, i + 1, line, names)
        row = data[i]
        for j, text in enumerate(fields):
            hi = 9 if j == 64 else 16
            row[j] = _parse_int(path, i + 1, j + 1, names[j], text, 0, hi)
    return data[:, :64].astype(np.float64), data[:, 64].copy()


def load_digits():
    """Load the shipped 8x8 handwritten digits (sklearn's ``load_digits`` data).

    Returns ``X`` float64 (1797, 64), pixel counts 0-16 row by row, and ``y``
    int64 (1797,), the digit 0-9.

    >>> X, y = load_digits()
    >>> X.shape, np.bincount(y).tolist()[:3]
    ((1797, 64), [178, 182, 177])
    """
    _verify_sha256(DIGITS_PATH, DIGITS_SHA256)
    return parse_digits(DIGITS_PATH)


# ---------------------------------------------------------------------------
# Splitting and batching


def _n_rows(a, name):
    a = np.asarray(a)
    if a.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension, got a scalar")
    return a, a.shape[0]


def _test_count(test_size, n):
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        n_test = int(test_size)
        if not 1 <= n_test <= n - 1:
            raise ValueError(
                f"test_size={n_test} must leave at least one row in each part: "
                f"use 1 <= test_size <= {n - 1} for {n} rows"
            )
        return n_test
    if isinstance(test_size, numbers.Real) and not isinstance(test_size, bool):
        if not 0.0 < test_size < 1.0:
            raise ValueError(
                f"test_size as a fraction must be in (0, 1), got {test_size!r}"
            )
        exact = test_size * n
        # Round up like sklearn, but 0.07 * 100 == 7.000000000000001 must give 7, not 8.
        n_test = round(exact) if abs(exact - round(exact)) < 1e-9 * max(1.0, exact) else math.ceil(exact)
        if n_test > n - 1:
            raise ValueError(
                f"test_size={test_size!r} of {n} rows leaves no training rows"
            )
        return n_test
    raise ValueError(f"test_size must be an int count or a float fraction, got {test_size!r}")


def _stratified_test_counts(counts, n_test, rng):
    """Per-class test counts summing to n_test, each close to its exact share,
    leaving at least one row of every class for training."""
    exact = counts * n_test / counts.sum()
    base = np.floor(exact).astype(np.int64)
    left = n_test - base.sum()
    frac = exact - base
    # Largest remainder; ties broken at random so no class is favoured by order.
    order = np.lexsort((rng.permutation(len(counts)), -frac))
    base[order[:left]] += 1
    cap = counts - 1
    short = int(np.maximum(base - cap, 0).sum())
    base = np.minimum(base, cap)
    for _ in range(short):  # rare: re-spend rows the cap took, on the most under-served class
        room = np.flatnonzero(base < cap)
        base[room[np.argmax(exact[room] - base[room])]] += 1
    return base


def train_test_split(X, y, *, test_size=0.25, stratify=False, random_state=None, shuffle=True):
    """Split rows of ``X`` and ``y`` into train and test parts.

    ``test_size`` is a fraction in (0, 1) (rounded up to whole rows) or an int
    count. ``stratify=True`` keeps each class's share of ``y`` in both parts
    (to within one row per class). ``random_state``: None (global np.random),
    int, RandomState or Generator; the same int gives the same split.
    ``shuffle=False`` puts the last rows in the test part (a split by order).

    >>> X, y = np.arange(20).reshape(10, 2), np.array([0] * 6 + [1] * 4)
    >>> Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.5, stratify=True, random_state=0)
    >>> sorted(yte.tolist())
    [0, 0, 0, 1, 1]
    """
    X, n = _n_rows(X, "X")
    y, ny = _n_rows(y, "y")
    if n != ny:
        raise ValueError(f"X has {n} rows but y has {ny}; they must match")
    if n < 2:
        raise ValueError(f"need at least 2 rows to split, got {n}")
    n_test = _test_count(test_size, n)
    if not shuffle:
        if stratify:
            raise ValueError("stratify=True needs shuffle=True")
        idx_train, idx_test = np.arange(n - n_test), np.arange(n - n_test, n)
        return X[idx_train], X[idx_test], y[idx_train], y[idx_test]
    rng = _rng(random_state)
    if not stratify:
        perm = rng.permutation(n)
        idx_test, idx_train = perm[:n_test], perm[n_test:]
    else:
        if y.ndim != 1:
            raise ValueError(f"stratify=True needs a 1-D y, got shape {y.shape}")
        classes, inv = np.unique(y, return_inverse=True)
        counts = np.bincount(inv)
        if counts.min() < 2:
            raise ValueError(
                f"stratify=True needs >= 2 rows per class; class "
                f"{classes[counts.argmin()].item()!r} has {counts.min()}"
            )
        k = len(classes)
        if n_test < k or n - n_test < k:
            raise ValueError(
                f"stratify=True with {k} classes needs >= {k} rows in each part; "
                f"got {n - n_test} train and {n_test} test"
            )
        per_class = _stratified_test_counts(counts, n_test, rng)
        test_parts, train_parts = [], []
        for c in range(k):
            members = rng.permutation(np.flatnonzero(inv == c))
            test_parts.append(members[: per_class[c]])
            train_parts.append(members[per_class[c]:])
        # Mix the classes so the parts are not ordered by class.
        idx_test = rng.permutation(np.concatenate(test_parts))
        idx_train = rng.permutation(np.concatenate(train_parts))
    return X[idx_train], X[idx_test], y[idx_train], y[idx_test]


def minibatches(X, y, batch_size, *, shuffle=True, seed=None):
    """Yield ``(Xb, yb)`` batches covering every row exactly once.

    The last batch may be smaller. With an int ``seed`` every call gives the
    same order; pass ``seed=epoch`` (or a ``np.random.Generator``, which
    advances) for a new order each epoch. ``seed=None`` uses fresh entropy.
    Arguments are checked when called, not at the first ``next()``.

    >>> X, y = np.arange(10).reshape(5, 2), np.arange(5)
    >>> [yb.tolist() for _, yb in minibatches(X, y, 2, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    """
    X, n = _n_rows(X, "X")
    y, ny = _n_rows(y, "y")
    if n != ny:
        raise ValueError(f"X has {n} rows but y has {ny}; they must match")
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if shuffle:
        if isinstance(seed, (np.random.Generator, np.random.RandomState)):
            order = seed.permutation(n)
        else:
            if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
                raise ValueError(f"seed must be None, an int or a numpy Generator, got {seed!r}")
            order = np.random.default_rng(seed).permutation(n)
    else:
        order = np.arange(n)
    batch_size = int(batch_size)

    def _gen():
        # rows gathered once, batches as slices of that copy: a batch never aliases the caller's X
        Xo, yo = X[order], y[order]
        for start in range(0, n, batch_size):
            yield Xo[start:start + batch_size], yo[start:start + batch_size]

    return _gen()


def one_hot(y, num_classes=None):
    """One-hot encode integer labels 0..k-1 into a float64 (n, k) array.

    >>> one_hot([0, 2, 1]).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"one_hot needs 1-D labels, got shape {y.shape}")
    if y.dtype.kind not in "biuf":
        raise ValueError(f"one_hot needs integer labels, got dtype {y.dtype}")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            raise ValueError(f"one_hot needs integer labels, got {y[bad][0].item()!r}")
    if (y < 0).any():
        raise ValueError(f"one_hot labels must be >= 0, got {y[y < 0][0].item()!r}")
    labels = y.astype(np.int64)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be an int >= 1, got {num_classes!r}")
    if labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"label {labels.max().item()} is out of range for num_classes={num_classes} "
            f"(labels must be 0..{num_classes - 1})"
        )
    out = np.zeros((labels.size, num_classes), dtype=np.float64)
    out[np.arange(labels.size), labels] = 1.0
    return out


# ---------------------------------------------------------------------------
# Scalers


class _Scaler:
    _fitted_attr = None

    def _check_X(self, X, fitting):
        name = type(self).__name__
        X = np.array(X, dtype=np.float64)  # always a copy: callers' arrays stay untouched
        if X.ndim != 2:
            raise ValueError(
                f"{name} expects a 2-D array (n_samples, n_features), got shape {X.shape}; "
                "use X.reshape(-1, 1) for a single feature"
            )
        if not np.isfinite(X).all():
            raise ValueError(f"{name} input contains NaN or infinity")
        if fitting:
            if X.shape[0] < 1:
                raise ValueError(f"{name}.fit needs at least one row, got 0")
        else:
            if not hasattr(self, self._fitted_attr):
                raise NotFittedError(f"this {name} is not fitted yet; call fit(X) first")
            if X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has the wrong number of features for this fitted {name}: "
                    f"expected {self.n_features_in_}, got {X.shape[1]}"
                )
        return X

    def fit_transform(self, X):
        return self.fit(X).transform(X)


class StandardScaler(_Scaler):
    """Standardize features to mean 0 and variance 1 (population std, like sklearn).

    Attributes after ``fit``: ``mean_``, ``var_``, ``scale_`` (std; 1.0 for
    constant features), ``n_features_in_``, ``n_samples_seen_``.

    >>> sc = StandardScaler().fit([[0.0, 5.0], [2.0, 5.0]])
    >>> sc.mean_.tolist(), sc.scale_.tolist()
    ([1.0, 5.0], [1.0, 1.0])
    """

    _fitted_attr = "scale_"

    def fit(self, X):
        X = self._check_X(X, fitting=True)
        n = X.shape[0]
        # sklearn's corrected two-pass algorithm (_incremental_mean_and_var on
        # a first batch), written out so the results match it bit for bit.
        count = np.float64(n)
        new_sum = np.sum(X, axis=0)
        mean = (0.0 + new_sum) / count
        temp = X - new_sum / count
        correction = np.sum(temp, axis=0)
        temp **= 2
        var = (np.sum(temp, axis=0) - correction**2 / count) / count
        # A constant column's computed variance is rounding noise, not 0;
        # this bound (Chan, Golub & LeVeque) is the one sklearn uses.
        eps = np.finfo(np.float64).eps
        constant = var <= n * eps * var + (n * mean * eps) ** 2
        scale = np.sqrt(var)
        scale[constant] = 1.0
        self.mean_ = mean
        self.var_ = var
        self.scale_ = scale
        self.n_features_in_ = X.shape[1]
        self.n_samples_seen_ = n
        return self

    def transform(self, X):
        X = self._check_X(X, fitting=False)
        X -= self.mean_
        X /= self.scale_
        return X

    def inverse_transform(self, X):
        X = self._check_X(X, fitting=False)
        X *= self.scale_
        X += self.mean_
        return X


class MinMaxScaler(_Scaler):
    """Scale each feature linearly to ``feature_range`` (default (0, 1)).

    Attributes after ``fit``: ``data_min_``, ``data_max_``, ``data_range_``,
    ``scale_``, ``min_`` (so ``transform(X) == X * scale_ + min_``),
    ``n_features_in_``. Constant features map to ``feature_range[0]``.

    >>> MinMaxScaler().fit_transform([[1.0], [3.0], [2.0]]).ravel().tolist()
    [0.0, 1.0, 0.5]
    """

    _fitted_attr = "scale_"

    def __init__(self, feature_range=(0, 1)):
        self.feature_range = feature_range

    def fit(self, X):
        lo, hi = self.feature_range
        if not lo < hi:
            raise ValueError(
                f"feature_range minimum must be smaller than maximum, got {self.feature_range!r}"
            )
        X = self._check_X(X, fitting=True)
        lo, hi = np.float64(lo), np.float64(hi)
        data_min = np.min(X, axis=0)
        data_max = np.max(X, axis=0)
        data_range = data_max - data_min
        # Near-zero ranges are treated as constant (threshold as in sklearn).
        safe_range = data_range.copy()
        safe_range[safe_range < 10 * np.finfo(np.float64).eps] = 1.0
        self.scale_ = (hi - lo) / safe_range
        self.min_ = lo - data_min * self.scale_
        self.data_min_ = data_min
        self.data_max_ = data_max
        self.data_range_ = data_range
        self.n_features_in_ = X.shape[1]
        self.n_samples_seen_ = X.shape[0]
        return self

    def transform(self, X):
        X = self._check_X(X, fitting=False)
        X *= self.scale_
        X += self.min_
        return X

    def inverse_transform(self, X):
        X = self._check_X(X, fitting=False)
        X -= self.min_
        X /= self.scale_
        return X
