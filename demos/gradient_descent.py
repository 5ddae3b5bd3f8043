"""Gradient descent on f(x) = x^4 - 3x^3 + 2 from x0 = 6, the derivative from autograd.

The tutorial's loop: step 0.01, stop when the step is below 1e-5; it lands at x = 2.249965
(the minimum is at 9/4).

    >>> round(run()["x"], 6)
    2.249965
"""
from __future__ import annotations

import argparse

from autograd import Value


def f(x):
    return x ** 4 - 3 * x ** 3 + 2


def run(x0=6.0, step=0.01, precision=1e-5, max_iters=100_000):
    x, iters = x0, 0
    while iters < max_iters:
        v = Value(x)
        f(v).backward()
        new = x - step * v.grad
        iters += 1
        done = abs(new - x) < precision
        x = new
        if done:
            break
    return {"x": x, "iterations": iters, "f": f(Value(x)).data}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--x0", type=float, default=6.0)
    args = ap.parse_args(argv)
    r = run(args.x0)
    print(f"gradient_descent: x = {r['x']:.6f} after {r['iterations']} steps, f(x) = {r['f']:.6f}")
    return r


if __name__ == "__main__":
    main()
