"""Gradient descent on f(x) = x^4 - 3x^3 + 2 from x0 = 6, the derivative from autograd.

The tutorial's loop: step 0.01, stop when the step is below 1e-5; it lands at x = 2.249965
(the minimum is at 9/4).

    >>> round(run()["x"], 6)
    2.249965
"""
from __future__ import annotations

from autograd import Value

from .common import Timer, finish, parse_args


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
    args = parse_args(__doc__, argv, 100_000)
    with Timer() as t:
        r = run(max_iters=args.steps or 100_000)
    r["seconds"] = round(t.seconds, 3)
    return finish("gradient_descent", r, args)


if __name__ == "__main__":
    main()
