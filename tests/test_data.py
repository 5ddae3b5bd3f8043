"""Tests for nn.data. Runs without scikit-learn; compares against it when installed.

Regenerate the make_moons fixture (needs sklearn) from the repo root with
``python -m tests.test_data``.
"""

import ast
import gzip
import hashlib
import json
import pathlib
import platform
import re

import numpy as np
import pytest

from nn import data
from nn.data import (
    DataFormatError,
    MinMaxScaler,
    NotFittedError,
    StandardScaler,
    load_breast_cancer_wisconsin,
    load_digits,
    make_moons,
    minibatches,
    one_hot,
    parse_digits,
    parse_wisconsin,
    train_test_split,
)

HERE = pathlib.Path(__file__).parent
FIXTURE = HERE / "fixtures" / "make_moons_sklearn.json"
DATASETS = pathlib.Path(data.__file__).parent / "datasets"

# ---------------------------------------------------------------------------
# make_moons fixture cases: (id, n_samples, noise, shuffle, random_state spec)
# spec: ["int", v] | ["RandomState", seed] | ["global", value for np.random.seed]
MOONS_CASES = [
    ("int10_nonoise_seed0", 10, None, True, ["int", 0]),
    ("int11_noise0.1_seed42", 11, 0.1, True, ["int", 42]),
    ("tuple3x5_noise0.3_noshuffle", [3, 5], 0.3, False, ["int", 7]),
    ("tuple6x2_noise0.3_RandomState", [6, 2], 0.3, True, ["RandomState", 3]),
    ("int100_noise0.1_global1337", 100, 0.1, True, ["global", 1337]),
    ("int9_nonoise_noshuffle_global", 9, None, False, ["global", 0]),
    ("int1_noise0.1_seed5", 1, 0.1, True, ["int", 5]),
    ("int7_noise0_global2", 7, 0.0, True, ["global", 2]),
    ("tuple0x3_noise0.3_seed1", [0, 3], 0.3, True, ["int", 1]),
]


def _random_state_from_spec(spec):
    """The random_state argument for a spec; seeds the global np.random first."""
    kind, value = spec
    np.random.seed(value if kind == "global" else 0)
    if kind == "int":
        return value
    if kind == "RandomState":
        return np.random.RandomState(value)
    return None


def _run_moons(fn, n, noise, shuffle, spec):
    rs = _random_state_from_spec(spec)
    X, y = fn(tuple(n) if isinstance(n, list) else n, noise=noise, shuffle=shuffle, random_state=rs)
    # The next draw from the stream used shows how many numbers make_moons consumed.
    after = (rs if isinstance(rs, np.random.RandomState) else np.random).random_sample()
    return X, y, after


def _regenerate_moons_fixture():
    import sklearn
    from sklearn.datasets import make_moons as sk_make_moons

    cases = []
    for cid, n, noise, shuffle, spec in MOONS_CASES:
        X, y, after = _run_moons(sk_make_moons, n, noise, shuffle, spec)
        cases.append({
            "id": cid, "n_samples": n, "noise": noise, "shuffle": shuffle,
            "random_state": spec, "y_dtype": str(y.dtype), "next_random": after,
            "X": X.tolist(), "y": y.tolist(),
        })
    header = {
        "generated_with": f"scikit-learn {sklearn.__version__} sklearn.datasets.make_moons, "
                          f"numpy {np.__version__}; regenerate: python -m tests.test_data",
        "numpy": np.__version__,
        "machine": platform.machine(),
    }
    # One case per line keeps the file small yet diffable.
    body = ",\n".join(json.dumps(c) for c in cases)
    head = json.dumps(header)[:-1]
    FIXTURE.write_text(f'{head}, "cases": [\n{body}\n]}}\n')
    print(f"wrote {FIXTURE} ({len(cases)} cases)")


def _load_fixture():
    # Tolerate a missing file so this module can still be run to regenerate it;
    # test_fixture_covers_required_argument_kinds then fails loudly.
    if not FIXTURE.exists():
        return {"numpy": None, "machine": None, "cases": []}
    return json.loads(FIXTURE.read_text())


# ---------------------------------------------------------------------------
# module hygiene


def _imported_modules(path):
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0] if node.level == 0 else "." * node.level)
    return names


def test_data_module_imports_only_numpy_and_stdlib():
    names = _imported_modules(pathlib.Path(data.__file__))
    assert "sklearn" not in names and "autograd" not in names
    assert not any(n.startswith(".") for n in names), names  # no relative imports (e.g. of autograd)
    assert names <= {"gzip", "hashlib", "math", "numbers", "pathlib", "numpy"}, names


def test_datasets_are_read_from_inside_the_package():
    src = pathlib.Path(data.__file__).read_text()
    assert "shared" not in src
    for path in (data.WISCONSIN_PATH, data.DIGITS_PATH):
        assert path.parent == DATASETS and path.is_file()


# ---------------------------------------------------------------------------
# make_moons


@pytest.mark.parametrize("case", _load_fixture()["cases"], ids=lambda c: c["id"])
def test_make_moons_matches_stored_sklearn_output(case):
    fixture = _load_fixture()
    X, y, after = _run_moons(make_moons, case["n_samples"], case["noise"], case["shuffle"],
                             case["random_state"])
    X_ref = np.array(case["X"], dtype=np.float64).reshape(-1, 2)
    assert X.shape == X_ref.shape
    assert y.dtype == np.dtype(case["y_dtype"]) == np.int64
    np.testing.assert_array_equal(y, case["y"])
    # Mersenne Twister output is platform independent, so RNG consumption is exact everywhere.
    assert after == case["next_random"]
    if fixture["numpy"] == np.__version__ and fixture["machine"] == platform.machine():
        assert np.array_equal(X, X_ref)  # bitwise, same build as the fixture
    else:
        # sin/cos/log may differ in the last bit between numpy builds / CPUs.
        np.testing.assert_allclose(X, X_ref, rtol=0, atol=1e-12)


def test_fixture_covers_required_argument_kinds():
    cases = _load_fixture()["cases"]
    kinds = {c["random_state"][0] for c in cases}
    assert kinds == {"int", "RandomState", "global"}
    assert {c["noise"] for c in cases} >= {None, 0.1, 0.3}
    assert {c["shuffle"] for c in cases} == {True, False}
    assert {type(c["n_samples"]) for c in cases} == {int, list}


@pytest.mark.parametrize("n", [1, 2, 7, 100, (3, 5), (0, 4), (5, 0)])
@pytest.mark.parametrize("noise", [None, 0.0, 0.1, 0.3])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("spec", [["int", 0], ["int", 42], ["RandomState", 5], ["global", 1337]])
def test_make_moons_bitwise_equal_to_live_sklearn(n, noise, shuffle, spec):
    sk_datasets = pytest.importorskip("sklearn.datasets")
    n_arg = list(n) if isinstance(n, tuple) else n
    X, y, after = _run_moons(make_moons, n_arg, noise, shuffle, spec)
    Xs, ys, after_s = _run_moons(sk_datasets.make_moons, n_arg, noise, shuffle, spec)
    assert np.array_equal(X, Xs) and X.dtype == Xs.dtype
    assert np.array_equal(y, ys) and y.dtype == ys.dtype
    assert after == after_s


def test_make_moons_readme_example_global_seed():
    np.random.seed(1337)
    X1, y1 = make_moons(100, noise=0.1)
    np.random.seed(1337)
    X2, y2 = make_moons(100, noise=0.1)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert X1.shape == (100, 2) and np.bincount(y1).tolist() == [50, 50]


def test_make_moons_int_seed_leaves_global_state_alone():
    np.random.seed(3)
    expected = np.random.random_sample()
    np.random.seed(3)
    make_moons(20, noise=0.2, random_state=0)
    assert np.random.random_sample() == expected


def test_make_moons_noiseless_points_lie_on_the_moons():
    X, y = make_moons((4, 6), shuffle=False)
    assert y.tolist() == [0] * 4 + [1] * 6
    outer, inner = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1, inner[:, 1] - 0.5), 1.0)
    assert (outer[:, 1] >= 0).all() and (inner[:, 1] <= 0.5).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"n_samples": 0}, "n_samples must be >= 1"),
    ({"n_samples": -3}, "n_samples must be >= 1"),
    ({"n_samples": 2.5}, "n_samples must be an int or a pair"),
    ({"n_samples": True}, "n_samples must be an int or a pair"),
    ({"n_samples": (1, 2, 3)}, "n_samples must be an int or a pair"),
    ({"n_samples": (-1, 2)}, "two ints >= 0"),
    ({"n_samples": (1.0, 2)}, "two ints >= 0"),
    ({"noise": -0.1}, "noise must be None or a real number >= 0"),
    ({"noise": "big"}, "noise must be None or a real number >= 0"),
    ({"noise": float("nan")}, "noise must be None or a real number >= 0"),
    ({"random_state": "seed"}, "random_state must be None, an int or a numpy.random.RandomState"),
    ({"random_state": np.random.default_rng(0)}, "random_state must be None"),
])
def test_make_moons_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        make_moons(**kwargs)


# ---------------------------------------------------------------------------
# shipped files


def _readme_checksums():
    text = (DATASETS / "README.md").read_text()
    rows = re.findall(r"^\|\s*`([^`]+)`\s*\|\s*([\d,]+)\s*\|\s*`([0-9a-f]{64})`\s*\|", text, re.M)
    return {name: (int(size.replace(",", "")), sha) for name, size, sha in rows}


def test_shipped_files_match_readme_sha256_and_size():
    sums = _readme_checksums()
    assert set(sums) == {
        "breast-cancer-wisconsin.data",
        "breast-cancer-wisconsin.names",
        "optdigits-test-1797.csv.gz",
    }
    for name, (size, sha) in sums.items():
        raw = (DATASETS / name).read_bytes()
        assert len(raw) == size, name
        assert hashlib.sha256(raw).hexdigest() == sha, name
    # The loader's built-in checksums must agree with the README.
    assert sums["breast-cancer-wisconsin.data"][1] == data.WISCONSIN_SHA256
    assert sums["optdigits-test-1797.csv.gz"][1] == data.DIGITS_SHA256


def test_readme_credits_sources_and_licence():
    text = (DATASETS / "README.md").read_text()
    for needle in ("CC BY 4.0", "Wolberg", "Mangasarian", "Alpaydin", "Kaynak", "UCI"):
        assert needle in text


def test_load_rejects_a_modified_shipped_file(tmp_path, monkeypatch):
    copy = tmp_path / "breast-cancer-wisconsin.data"
    copy.write_bytes(data.WISCONSIN_PATH.read_bytes().replace(b"1000025,5", b"1000025,6", 1))
    monkeypatch.setattr(data, "WISCONSIN_PATH", copy)
    with pytest.raises(DataFormatError, match="sha256 mismatch") as exc:
        load_breast_cancer_wisconsin()
    assert str(copy) in str(exc.value)


# ---------------------------------------------------------------------------
# Wisconsin breast cancer

MISSING_LINES = [24, 41, 140, 146, 159, 165, 236, 250, 276, 293, 295, 298, 316, 322, 412, 618]


def test_wisconsin_raw_parse_counts():
    ids, X, y = parse_wisconsin(data.WISCONSIN_PATH)
    assert X.shape == (699, 9) and X.dtype == np.float64
    assert y.dtype == np.int64 and ids.dtype == np.int64
    assert np.bincount(y).tolist() == [458, 241]
    assert len(np.unique(ids)) == 645  # ids repeat, so they cannot be a key
    rows, cols = np.nonzero(np.isnan(X))
    assert (rows + 1).tolist() == MISSING_LINES
    assert set(cols.tolist()) == {data.WISCONSIN_FEATURE_NAMES.index("Bare Nuclei")}
    assert np.bincount(y[rows]).tolist() == [14, 2]
    complete = X[~np.isnan(X)]
    assert complete.min() == 1 and complete.max() == 10
    # line 1 of the file: 1000025,5,1,1,1,2,1,3,1,1,2
    assert ids[0] == 1000025 and X[0].tolist() == [5, 1, 1, 1, 2, 1, 3, 1, 1] and y[0] == 0


def test_wisconsin_drop_removes_the_16_incomplete_rows_in_order():
    X, y, ids = load_breast_cancer_wisconsin(return_ids=True)
    assert X.shape == (683, 9) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [444, 239]
    assert not np.isnan(X).any()
    raw_ids, raw_X, raw_y = parse_wisconsin(data.WISCONSIN_PATH)
    keep = np.ones(699, bool)
    keep[np.array(MISSING_LINES) - 1] = False
    assert np.array_equal(X, raw_X[keep]) and np.array_equal(y, raw_y[keep])
    assert np.array_equal(ids, raw_ids[keep])


def test_wisconsin_impute_fills_with_median_of_complete_rows():
    X, y = load_breast_cancer_wisconsin(missing="impute")
    _, raw_X, raw_y = parse_wisconsin(data.WISCONSIN_PATH)
    col = data.WISCONSIN_FEATURE_NAMES.index("Bare Nuclei")
    assert X.shape == (699, 9) and not np.isnan(X).any()
    assert np.array_equal(y, raw_y)
    filled = np.array(MISSING_LINES) - 1
    median = np.median(np.delete(raw_X[:, col], filled))
    assert median == 1.0
    assert (X[filled, col] == median).all()
    untouched = np.delete(np.arange(699), filled)
    assert np.array_equal(X[untouched], raw_X[untouched])


def test_wisconsin_rejects_unknown_missing_policy():
    with pytest.raises(ValueError, match="missing must be 'drop' or 'impute', got 'mean'"):
        load_breast_cancer_wisconsin(missing="mean")


GOOD_LINES = [
    "1000025,5,1,1,1,2,1,3,1,1,2",
    "1002945,5,4,4,5,7,10,3,2,1,2",
    "1057013,8,4,5,1,2,?,7,3,1,4",
    "1017122,8,10,10,8,7,10,9,7,1,4",
]


@pytest.mark.parametrize("bad_line, field, field_name, text", [
    ("1015425,3,1,1,1,2,2,3,1,1", 11, "Class", "1015425,3,1,1,1,2,2,3,1,1"),
    ("1015425,3,1,1,1,2,2,3,1,1,2,7", 12, "after Class", "1015425,3,1,1,1,2,2,3,1,1,2,7"),
    ("", 2, "Clump Thickness", ""),
    ("abc,3,1,1,1,2,2,3,1,1,2", 1, "Sample code number", "abc"),
    ("1015425,5a,1,1,1,2,2,3,1,1,2", 2, "Clump Thickness", "5a"),
    ("1015425,3, 1,1,1,2,2,3,1,1,2", 3, "Uniformity of Cell Size", " 1"),
    ("1015425,3,1,11,1,2,2,3,1,1,2", 4, "Uniformity of Cell Shape", "11"),
    ("1015425,3,1,1,,2,2,3,1,1,2", 5, "Marginal Adhesion", ""),
    ("1015425,3,1,1,1,2,0,3,1,1,2", 7, "Bare Nuclei", "0"),
    ("1015425,3,1,1,1,2,2,3,-1,1,2", 9, "Normal Nucleoli", "-1"),
    ("1015425,3,?,1,1,2,2,3,1,1,2", 3, "Uniformity of Cell Size", "?"),
    ("1015425,3,1,1,1,2,2,3,1,1,3", 11, "Class", "3"),
    ("1015425,3,1,1,1,2,2,3,1,1,?", 11, "Class", "?"),
    ("1015425,3,1,1,1,2,2,3,1,1.0,2", 10, "Mitoses", "1.0"),
])
def test_parse_wisconsin_reports_file_line_field_and_text(tmp_path, bad_line, field, field_name, text):
    path = tmp_path / "broken.data"
    lines = GOOD_LINES[:2] + [bad_line] + GOOD_LINES[2:]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as exc:
        parse_wisconsin(path)
    err = exc.value
    assert isinstance(err, ValueError)
    assert (err.line, err.field, err.field_name, err.text) == (3, field, field_name, text)
    msg = str(err)
    assert str(path) in msg and "broken.data" in msg
    assert "line 3," in msg
    assert f"field {field} ({field_name})" in msg
    assert repr(text) in msg


def test_parse_wisconsin_question_mark_outside_field_7_says_where_it_is_allowed(tmp_path):
    path = tmp_path / "q.data"
    path.write_text("1015425,?,1,1,1,2,2,3,1,1,2\n")
    with pytest.raises(DataFormatError, match=r"only allowed in field 7 \(Bare Nuclei\)"):
        parse_wisconsin(path)


def test_parse_wisconsin_accepts_good_lines_and_crlf(tmp_path):
    path = tmp_path / "ok.data"
    path.write_bytes(("\r\n".join(GOOD_LINES) + "\r\n").encode())
    ids, X, y = parse_wisconsin(path)
    assert ids.tolist() == [1000025, 1002945, 1057013, 1017122]
    assert y.tolist() == [0, 0, 1, 1]
    assert np.isnan(X[2, 5]) and np.isnan(X).sum() == 1


def test_parse_wisconsin_rejects_empty_and_non_ascii_files(tmp_path):
    empty = tmp_path / "empty.data"
    empty.write_text("")
    with pytest.raises(DataFormatError, match="no data lines"):
        parse_wisconsin(empty)
    binary = tmp_path / "latin.data"
    binary.write_bytes(b"1000025,5,1,1,1,2,1,3,1,1,2\n10029\xe9,5,4,4,5,7,10,3,2,1,2\n")
    with pytest.raises(DataFormatError, match="line 2") as exc:
        parse_wisconsin(binary)
    assert "latin.data" in str(exc.value)


# ---------------------------------------------------------------------------
# digits


def test_load_digits_shapes_and_counts():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert X.min() == 0 and X.max() == 16 and (X == np.round(X)).all()
    with gzip.open(data.DIGITS_PATH, "rt") as fh:
        first = [int(v) for v in fh.readline().split(",")]
    assert X[0].tolist() == first[:64] and y[0] == first[64] == 0


def test_load_digits_equals_sklearn():
    sk_datasets = pytest.importorskip("sklearn.datasets")
    d = sk_datasets.load_digits()
    X, y = load_digits()
    assert np.array_equal(X, d.data) and np.array_equal(y, d.target)


def _digit_line(pixels=None, label="3"):
    pixels = pixels or ["0"] * 64
    return ",".join(pixels + [label])


@pytest.mark.parametrize("mutate, field, field_name, text", [
    (lambda p: (p[:9] + ["17"] + p[10:], "3"), 10, "pixel (row 2, column 2)", "17"),
    (lambda p: (p[:63] + ["x"], "3"), 64, "pixel (row 8, column 8)", "x"),
    (lambda p: (p, "10"), 65, "digit", "10"),
    (lambda p: (p[:-1], "3"), 65, "digit", None),
])
def test_parse_digits_reports_file_line_field_and_text(tmp_path, mutate, field, field_name, text):
    pixels, label = mutate(["0"] * 64)
    bad = _digit_line(pixels, label)
    path = tmp_path / "digits-bad.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(_digit_line() + "\n" + bad + "\n")
    with pytest.raises(DataFormatError) as exc:
        parse_digits(path)
    err = exc.value
    text = bad if text is None else text
    assert (err.line, err.field, err.field_name, err.text) == (2, field, field_name, text)
    msg = str(err)
    assert "digits-bad.csv.gz" in msg and "line 2," in msg
    assert f"field {field} ({field_name})" in msg and repr(text) in msg


def test_parse_digits_reads_plain_text_too(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(_digit_line(["16"] * 64, "9") + "\n")
    X, y = parse_digits(path)
    assert X.shape == (1, 64) and (X == 16).all() and y.tolist() == [9]


# ---------------------------------------------------------------------------
# train_test_split


def _rows():
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.array([0] * 14 + [1] * 6)
    return X, y


def test_split_sizes_and_partition():
    X, y = _rows()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)
    assert len(X_te) == len(y_te) == 5 and len(X_tr) == len(y_tr) == 15  # ceil(0.25 * 20)
    ids_tr, ids_te = X_tr[:, 0] // 2, X_te[:, 0] // 2
    assert sorted(np.concatenate([ids_tr, ids_te]).tolist()) == list(range(20))
    # X and y rows stay paired
    assert np.array_equal(y_tr, y[ids_tr.astype(int)]) and np.array_equal(y_te, y[ids_te.astype(int)])
    assert len(train_test_split(X, y, test_size=0.1, random_state=0)[1]) == 2
    assert len(train_test_split(X, y, test_size=0.01, random_state=0)[1]) == 1  # rounds up
    assert len(train_test_split(X, y, test_size=7, random_state=0)[1]) == 7
    # float noise in the fraction must not add a row: 0.07 * 100 == 7.000000000000001
    assert len(train_test_split(np.zeros((100, 1)), np.zeros(100), test_size=0.07, random_state=0)[1]) == 7
    assert len(train_test_split(np.zeros((100, 1)), np.zeros(100), test_size=0.071, random_state=0)[1]) == 8


def test_split_is_reproducible_for_a_seed_and_varies_between_seeds():
    X, y = _rows()
    a = train_test_split(X, y, random_state=3)
    b = train_test_split(X, y, random_state=3)
    c = train_test_split(X, y, random_state=4)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    d = train_test_split(X, y, random_state=np.random.RandomState(3))
    assert all(np.array_equal(p, q) for p, q in zip(a, d))
    np.random.seed(11)
    e = train_test_split(X, y)
    np.random.seed(11)
    f = train_test_split(X, y)
    assert all(np.array_equal(p, q) for p, q in zip(e, f))
    g = train_test_split(X, y, random_state=np.random.default_rng(5))
    h = train_test_split(X, y, random_state=np.random.default_rng(5))
    assert all(np.array_equal(p, q) for p, q in zip(g, h))


def test_split_without_shuffle_takes_the_last_rows_as_test():
    X, y = _rows()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=4, shuffle=False)
    assert np.array_equal(X_tr, X[:16]) and np.array_equal(X_te, X[16:])
    assert np.array_equal(y_te, y[16:])


def test_stratified_split_keeps_class_proportions():
    X, y = _rows()
    for seed in range(10):
        _, _, y_tr, y_te = train_test_split(X, y, test_size=0.5, stratify=True, random_state=seed)
        assert np.bincount(y_te).tolist() == [7, 3] and np.bincount(y_tr).tolist() == [7, 3]
    Xb, yb = load_breast_cancer_wisconsin()
    _, _, y_tr, y_te = train_test_split(Xb, yb, test_size=0.2, stratify=True, random_state=0)
    assert len(y_te) == 137
    share = yb.mean() * len(y_te)
    assert abs(y_te.sum() - share) < 1 and abs(y_tr.sum() - yb.mean() * len(y_tr)) < 1
    a = train_test_split(Xb, yb, stratify=True, random_state=1)
    b = train_test_split(Xb, yb, stratify=True, random_state=1)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))


def test_stratified_counts_stay_within_one_of_exact_share():
    rng = np.random.default_rng(0)
    for _ in range(150):
        k = int(rng.integers(2, 6))
        counts = rng.integers(2, 30, size=k)
        y = np.repeat(np.arange(k), counts)
        n = len(y)
        n_test = int(rng.integers(k, n - k + 1))
        _, _, y_tr, y_te = train_test_split(np.zeros((n, 1)), y, test_size=n_test,
                                            stratify=True, random_state=int(rng.integers(1000)))
        got = np.bincount(y_te, minlength=k)
        assert got.sum() == n_test
        assert (np.abs(got - counts * n_test / n) < 1 + 1e-9).all()
        assert (np.bincount(y_tr, minlength=k) >= 1).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"test_size": 0.0}, "fraction must be in (0, 1)"),
    ({"test_size": 1.0}, "fraction must be in (0, 1)"),
    ({"test_size": -0.2}, "fraction must be in (0, 1)"),
    ({"test_size": 0}, "use 1 <= test_size <= 19 for 20 rows"),
    ({"test_size": 20}, "use 1 <= test_size <= 19 for 20 rows"),
    ({"test_size": 0.99}, "leaves no training rows"),
    ({"test_size": "0.2"}, "test_size must be an int count or a float fraction"),
    ({"test_size": True}, "test_size must be an int count or a float fraction"),
    ({"stratify": True, "shuffle": False}, "stratify=True needs shuffle=True"),
    ({"random_state": "x"}, "random_state must be None"),
])
def test_split_rejects_bad_arguments(kwargs, match):
    X, y = _rows()
    with pytest.raises(ValueError, match=re.escape(match)):
        train_test_split(X, y, **kwargs)


def test_split_rejects_mismatched_lengths_and_tiny_classes():
    X, y = _rows()
    with pytest.raises(ValueError, match="X has 20 rows but y has 19"):
        train_test_split(X, y[:-1])
    y1 = y.copy()
    y1[0] = 2
    with pytest.raises(ValueError, match="class 2 has 1"):
        train_test_split(X, y1, stratify=True)
    with pytest.raises(ValueError, match="needs >= 2 rows in each part"):
        train_test_split(X, y, test_size=1, stratify=True)


# ---------------------------------------------------------------------------
# scalers


def _train_test_matrices():
    rng = np.random.default_rng(1)
    train = rng.normal([5.0, -2.0, 3.0], [2.0, 0.5, 1.0], size=(50, 3))
    test = rng.normal([6.0, -2.0, 3.0], [2.0, 0.5, 1.0], size=(20, 3))
    return train, test


def test_standard_scaler_fits_on_train_only():
    train, test = _train_test_matrices()
    sc = StandardScaler()
    Z_train = sc.fit_transform(train)
    Z_test = sc.transform(test)
    np.testing.assert_allclose(sc.mean_, train.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sc.scale_, train.std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sc.var_, train.var(axis=0), rtol=1e-12)
    np.testing.assert_allclose(Z_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z_train.std(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose(Z_test, (test - train.mean(0)) / train.std(0), rtol=1e-12)
    assert abs(Z_test.mean(axis=0)[0]) > 0.1  # test statistics were not used
    np.testing.assert_allclose(sc.inverse_transform(Z_test), test, rtol=1e-12)
    assert sc.n_features_in_ == 3 and sc.n_samples_seen_ == 50


def test_minmax_scaler_fits_on_train_only():
    train, test = _train_test_matrices()
    sc = MinMaxScaler(feature_range=(-1, 1))
    Z_train = sc.fit_transform(train)
    np.testing.assert_array_equal(sc.data_min_, train.min(0))
    np.testing.assert_array_equal(sc.data_max_, train.max(0))
    np.testing.assert_allclose(Z_train.min(0), -1, atol=1e-12)
    np.testing.assert_allclose(Z_train.max(0), 1, atol=1e-12)
    Z_test = sc.transform(test)
    np.testing.assert_allclose(Z_test, test * sc.scale_ + sc.min_, rtol=1e-12)
    np.testing.assert_allclose(sc.inverse_transform(Z_test), test, rtol=1e-12)


def test_scalers_handle_constant_columns_without_dividing_by_zero():
    X = np.array([[1.0, 7.0], [2.0, 7.0], [4.0, 7.0]])
    sc = StandardScaler().fit(X)
    assert sc.scale_[1] == 1.0 and sc.var_[1] == 0.0
    assert (sc.transform(X)[:, 1] == 0).all()
    mm = MinMaxScaler((2, 5)).fit(X)
    assert mm.scale_[1] == 3.0
    assert (mm.transform(X)[:, 1] == 2).all()
    # a column that is constant only up to rounding still counts as constant
    Y = np.full((10, 1), 0.1) * 3
    Y[0] = 0.3
    assert StandardScaler().fit(Y).scale_[0] == 1.0


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_scalers_errors(cls):
    X = np.ones((4, 3))
    with pytest.raises(NotFittedError, match="not fitted yet; call fit"):
        cls().transform(X)
    with pytest.raises(ValueError, match="not fitted"):
        cls().inverse_transform(X)
    sc = cls().fit(X)
    with pytest.raises(ValueError, match="expected 3, got 2"):
        sc.transform(np.ones((4, 2)))
    with pytest.raises(ValueError, match="expected 3, got 5"):
        sc.inverse_transform(np.ones((4, 5)))
    with pytest.raises(ValueError, match="expects a 2-D array"):
        cls().fit(np.ones(4))
    with pytest.raises(ValueError, match="NaN or infinity"):
        cls().fit([[1.0], [np.nan]])
    with pytest.raises(ValueError, match="at least one row"):
        cls().fit(np.ones((0, 2)))


def test_scalers_do_not_modify_their_input():
    train, _ = _train_test_matrices()
    before = train.copy()
    StandardScaler().fit(train).transform(train)
    MinMaxScaler().fit(train).inverse_transform(train)
    assert np.array_equal(train, before)


def test_minmax_rejects_empty_feature_range():
    with pytest.raises(ValueError, match="feature_range minimum must be smaller"):
        MinMaxScaler((1, 1)).fit(np.ones((2, 2)))


def test_scalers_equal_sklearn():
    skp = pytest.importorskip("sklearn.preprocessing")
    rng = np.random.default_rng(7)
    for trial in range(30):
        n = int(rng.integers(1, 40))
        train = rng.normal(size=(n, 4)) * rng.choice([1e-4, 1.0, 1e5]) + rng.choice([0.0, 1e7])
        train[:, 2] = 0.7  # constant column
        test = rng.normal(size=(5, 4))
        for ours, theirs, attrs in [
            (StandardScaler(), skp.StandardScaler(), ["mean_", "var_", "scale_"]),
            (MinMaxScaler((-2, 3)), skp.MinMaxScaler((-2, 3)),
             ["data_min_", "data_max_", "data_range_", "scale_", "min_"]),
        ]:
            ours.fit(train)
            theirs.fit(train)
            for a in attrs:
                np.testing.assert_array_equal(getattr(ours, a), getattr(theirs, a), err_msg=a)
            np.testing.assert_array_equal(ours.transform(test), theirs.transform(test))
            np.testing.assert_array_equal(ours.inverse_transform(test), theirs.inverse_transform(test))


# ---------------------------------------------------------------------------
# minibatches


def test_minibatches_cover_every_row_once_with_a_short_last_batch():
    X = np.arange(46, dtype=float).reshape(23, 2)
    y = np.arange(23)
    batches = list(minibatches(X, y, 5, seed=0))
    assert [len(yb) for _, yb in batches] == [5, 5, 5, 5, 3]
    seen = np.concatenate([yb for _, yb in batches])
    assert sorted(seen.tolist()) == list(range(23))
    assert not np.array_equal(seen, y)  # actually shuffled
    for Xb, yb in batches:
        assert np.array_equal(Xb[:, 0], 2 * yb)  # rows stay paired


def test_minibatches_reproducible_per_seed():
    X, y = np.zeros((30, 1)), np.arange(30)
    order = lambda **kw: np.concatenate([yb for _, yb in minibatches(X, y, 8, **kw)])
    assert np.array_equal(order(seed=4), order(seed=4))
    assert not np.array_equal(order(seed=4), order(seed=5))
    gen = np.random.default_rng(0)
    e1, e2 = order(seed=gen), order(seed=gen)  # a Generator advances: new order per epoch
    assert not np.array_equal(e1, e2)
    assert sorted(e2.tolist()) == list(range(30))
    assert np.array_equal(order(shuffle=False), y)


def test_minibatches_validate_eagerly():
    X, y = np.zeros((5, 2)), np.zeros(5)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        minibatches(X, y, 0)  # raised at call time, before iterating
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        minibatches(X, y, 2.0)
    with pytest.raises(ValueError, match="X has 5 rows but y has 4"):
        minibatches(X, y[:4], 2)
    with pytest.raises(ValueError, match="seed must be None, an int"):
        minibatches(X, y, 2, seed="a")
    assert [len(b[0]) for b in minibatches(X, y, 10)] == [5]


# ---------------------------------------------------------------------------
# one_hot


def test_one_hot_values():
    out = one_hot([1, 0, 3])
    assert out.dtype == np.float64 and out.shape == (3, 4)
    assert out.tolist() == [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]]
    assert one_hot(np.array([0, 1]), num_classes=3).shape == (2, 3)
    assert one_hot(np.array([2.0, 0.0])).tolist() == [[0, 0, 1], [1, 0, 0]]
    assert one_hot([], num_classes=2).shape == (0, 2)


@pytest.mark.parametrize("y, kwargs, match", [
    ([0, -1], {}, "must be >= 0, got -1"),
    ([0, 1.5], {}, "integer labels, got 1.5"),
    ([0, np.nan], {}, "integer labels"),
    (["a", "b"], {}, "integer labels, got dtype"),
    ([0, 3], {"num_classes": 3}, "label 3 is out of range for num_classes=3"),
    ([[0, 1]], {}, "1-D labels"),
    ([0, 1], {"num_classes": 0}, "num_classes must be an int >= 1"),
])
def test_one_hot_errors(y, kwargs, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        one_hot(y, **kwargs)


if __name__ == "__main__":
    _regenerate_moons_fixture()
