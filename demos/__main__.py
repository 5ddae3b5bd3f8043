"""Run every demo and write the report: python -m demos [--quick] [--out out/]

Writes <out>/results.json (every demo's numbers under its key), <out>/report.html (tables,
plots and a short explanation per demo) and the plots themselves.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from . import britz_moons, digits, gradient_descent, micrograd_moons, perceptron, wisconsin
from . import check_backprop
from .common import write_json
from .report import write_report

DEMOS = {  # key in results.json -> (module, arguments for its main in quick mode)
    "micrograd_moons": micrograd_moons,
    "perceptron": perceptron,
    "britz_moons": britz_moons,
    "gradient_descent": gradient_descent,
    "wisconsin": wisconsin,
    "digits": digits,
    "check_backprop": check_backprop,
}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m demos", description="Run every valuegrad demo and write a report.")
    ap.add_argument("--out", default="out", help="output folder (default out/)")
    ap.add_argument("--quick", action="store_true", help="shorter runs (under a minute), for CI")
    ap.add_argument("--only", nargs="*", choices=sorted(DEMOS), help="run only these demos")
    ap.add_argument("--no-plots", action="store_true", help="skip the plots")
    args = ap.parse_args(argv)
    results, started = {}, time.perf_counter()
    for key, module in DEMOS.items():
        if args.only and key not in args.only:
            continue
        sub = ["--out", args.out] + (["--quick"] if args.quick else []) + (["--no-plots"] if args.no_plots else [])
        results[key] = module.main(sub)
    results["total_seconds"] = round(time.perf_counter() - started, 2)
    results["quick"] = args.quick
    write_json(os.path.join(args.out, "results.json"), results)
    report = write_report(results, args.out)
    print(f"all demos: {results['total_seconds']} s; wrote {os.path.join(args.out, 'results.json')} "
          f"and {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
