"""The benchmarks compare like with like: on tiny sizes, every contender (valuegrad eager, compiled
numpy and C, nn.fit, PyTorch, JAX) computes the same losses, step by step, as valuegrad eager;
the bounds hold (a compile past its limit is skipped, a slow step is cut off). PyTorch and JAX
parts skip themselves when those are not installed."""
import os
import sys
import time

import numpy as np
import pytest

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench")
sys.path.insert(0, BENCH)
import common  # noqa: E402
import demo_digits  # noqa: E402
import mnist  # noqa: E402
import rivals  # noqa: E402
import scaling  # noqa: E402
import workload  # noqa: E402

EXPECTED = {"numpy", "c"} | {k for k in ("torch", "jax") if getattr(rivals, k) is not None}


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VALUEGRAD_CACHE", str(tmp_path / "cache"))


def test_scaling_cell_contenders_agree_with_eager(capsys):
    rows, per_width = scaling.main(["--widths", "3", "--batches", "7", "--rounds", "1", "--steps", "2",
                                    "--budget", "2"])  # a loaded machine's step may take 25 ms: still 2 steps
    (w, b, res, ref, diffs), = rows
    assert ref == "eager" and set(diffs) == EXPECTED
    assert max(diffs.values()) < 1e-12
    assert all(len(res[k].losses) == 2 for k in EXPECTED | {"eager"})  # the same 2 steps, not 1
    assert per_width[0][1]["c"]["lines"] > 0 and per_width[0][1]["c"]["recompiled"] is False
    fit = per_width[0][1]["fit"]  # nn.fit's cached load: traced, then found by its description
    assert fit["traced_path"] == "1 trace(s)" and fit["keyed_path"] == "no trace", fit
    assert "| 3 | 7 | 25 |" in capsys.readouterr().out


def test_cross_entropy_epoch_with_a_short_batch_and_fit(capsys):
    wl, res, ref, diffs, info, t_jax = mnist.main(["--examples", "70", "--hidden", "4", "--inputs", "5",
                                                   "--rounds", "1", "--budget", "0.05", "--skip", "numpy"])
    assert wl.steps == 2 and len(wl.shapes) == 2  # 64 + 6 rows: two compiled programs
    assert res["numpy"].skipped == "skipped (--skip)"
    assert ref == "eager" and {k.split()[0] for k in diffs} == EXPECTED - {"numpy"} | {"fit"}
    assert max(diffs.values()) < 1e-12
    assert "| compiled C, flat |" in capsys.readouterr().out
    assert info["c"]["fit"]["traced_path"] == "2 trace(s)" and "keyed" in info["c"]["fit"], info["c"]["fit"]


def test_demo_bench_fit_with_one_step_an_epoch_agrees(capsys):
    opts = demo_digits.parse(["--rounds", "1", "--steps", "2", "--budget", "0.05"])
    a = demo_digits.bench(workload.moons(3, 6, steps=2), opts, per_epoch=False)
    assert a["ref"] == "eager" and set(a["diffs"]) == EXPECTED | {"fit"}
    assert max(a["diffs"].values()) < 1e-12
    demo_digits.report(a, None)
    assert "| nn.fit(compile=True) |" in capsys.readouterr().out


def test_workload_a_is_micrograds_demo():
    wl = workload.demo(steps=1)
    eager = workload.Eager(wl)
    eager.reset()
    assert wl.n_params == 337 and eager.run(1) == [0.8958441028683222]  # micrograd's first loss


def test_the_same_weights_reach_every_contender():
    wl = workload.moons(3, 5, steps=1)
    model = workload.make_model(wl)
    for (W, b), (W2, b2) in zip(common.layer_arrays(model), wl.init):
        assert np.array_equal(W, W2) and np.array_equal(b, b2)


def test_a_compile_over_its_limit_is_skipped_not_waited_for():
    c = workload.Flat(workload.moons(3, 5, steps=1), "c")
    t = time.perf_counter()
    workload.prepare_compiled(c, 0.01, info := {})
    assert time.perf_counter() - t < 5
    assert c.skipped == info["c"]["skipped"] == "skipped: compile over 0.01 s"


def test_a_slow_step_is_cut_off():
    class Slow:
        name, skipped, fixed_steps = "slow", None, None

        def reset(self):
            pass

        def run(self, n):
            time.sleep(5)

    res = common.measure([Slow()], steps=3, rounds=2, budget=1.0, step_limit=0.05)
    assert res["slow"].skipped == "skipped: a step took over 0.05 s" and res["slow"].times == []


def test_without_torch_and_jax_their_columns_say_skipped(monkeypatch, capsys):
    monkeypatch.setattr(rivals, "torch", None)
    monkeypatch.setattr(rivals, "jax", None)
    wl = workload.moons(3, 5, steps=2)
    cs = workload.valuegrad_contenders(wl) + rivals.rival_contenders(wl)
    for c in cs[1:3]:
        c.skipped = "skipped: not compiled in this test"
    res = common.measure(cs, steps=2, rounds=1, budget=0.05, step_limit=5)
    ref, diffs = common.agreement(cs, res)
    assert ref == "eager" and diffs == {} and len(res["eager"].losses) == 2
    scaling.print_row(3, 5, res, ref, diffs, scaling.parse(["--rounds", "1", "--steps", "2"]))
    out = capsys.readouterr().out
    assert "skipped: torch is not installed" in out and "skipped: jax is not installed" in out


def test_fit_overhead_times_a_fit_call_against_the_raw_epoch(capsys):
    import fit_overhead
    m = fit_overhead.main(["--rounds", "3", "--workload", "demo"])
    assert set(m) == {"raw", "fit", "read", "load"} and min(m.values()) > 0
    assert "x the raw epoch" in capsys.readouterr().out
