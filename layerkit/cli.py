"""The ``layerkit`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``layerkit`` console script."""
    parser = argparse.ArgumentParser(
        prog="layerkit",
        description="Neural networks as pluggable, gradient-checked layers.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="train a network on the bundled digits data and print its test accuracy",
        description="Train a 64-64-10 network on scikit-learn's digits data with the "
        "low-level API and print the test accuracy.",
    )
    demo.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    demo.add_argument("--max-iter", type=int, default=30, help="epochs (default 30)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        run_demo(random_state=args.random_state, max_iter=args.max_iter)
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
