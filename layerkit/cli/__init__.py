"""The ``layerkit`` command: demo, train, predict, inspect.

Every problem with the user's files or arguments is printed as one clear message (no
traceback) and the command exits with status 1; a usage error exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .. import __version__
from ._errors import CLIError

EXAMPLE_EXPERIMENT = """\
the experiment file (TOML; JSON with the same structure works too). Required: task,
data.path, data.target. Every other field is shown with its default:

  task = "classification"            # or "regression"
  plugins = []                       # modules defining your own layers, imported first
  loss = "log_loss"                  # regression: "squared_error" (default) or "poisson";
                                     # or a loss object: {type = "SquaredError"}
  optimizer = "adam"                 # "sgd", "lbfgs", or an object (see [optimizer] below)

  [data]
  path = "iris.csv"                  # CSV or Parquet, relative to this file
  target = "species"
  features = ["a", "b"]              # default: every column but the target
  # exclude = ["id"]                 # or: every column but the target and these
  categorical = "auto"               # one-hot encoded: "auto" takes the columns holding
                                     # text; or list them (integer codes too); [] none
  # impute = "median"                # or "mean": fill missing numbers (default: refused)
  standardize = true                 # scaled for training, folded into the first layer
  standardize_target = true          # regression, squared error: scaled for training,
                                     # folded into the output layer

  [[layers]]                         # hidden layers (default: Dense(100), ReLU);
  type = "Dense"                     # the output layer is added for the task
  units = 100
  [[layers]]
  type = "ReLU"

  # [optimizer]                      # the object form of `optimizer`
  # type = "Adam"
  # learning_rate = 0.001

  [training]
  max_iter = 200
  batch_size = "auto"                # min(200, rows)
  alpha = 0.0001                     # L2 penalty
  tol = 0.0001
  shuffle = true
  random_state = 0
  learning_rate = "constant"         # the schedule (sgd): "invscaling", "adaptive";
                                     # "cosine" (sgd, adam): down to 0 at max_iter
  power_t = 0.5                      # the exponent of "invscaling"
  # class_weight = "balanced"        # classification; or {label = weight, ...}

  [validation]
  test_fraction = 0.2                # rows held out for the test metrics
  early_stopping = false             # stop when a validation split of the
                                     # training rows stops improving
  validation_fraction = 0.1
  n_iter_no_change = 10
  # scoring = "loss"                 # what early stopping scores: "loss" or a
                                     # scikit-learn scorer's name ("f1_macro");
                                     # default: accuracy, or R² for regression

  [output]
  dir = "layerkit-output"            # relative to this file
  model = "model.lkm"
  metrics = "metrics.json"
  plot = "loss_curve.png"            # .png, .svg or .pdf
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerkit",
        description="Neural networks as pluggable, gradient-checked layers for scikit-learn.",
        epilog="Run `layerkit COMMAND --help` for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"layerkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="train on the bundled digits data: accuracy, gradient check, loss-curve plot",
        description="Train a 64-64-10 network on scikit-learn's digits data with per-epoch "
        "progress, print the test accuracy, check the trained network's gradients "
        "against finite differences, time backpropagation against them, and draw the "
        "loss curve to a PNG.",
    )
    demo.add_argument("--random-state", type=int, default=0, help="seed (default: 0)")
    demo.add_argument("--max-iter", type=_positive, default=100, help="most epochs (default: 100)")
    demo.add_argument(
        "--plot",
        type=Path,
        default=Path("layerkit-demo-loss.png"),
        help="where to write the loss-curve PNG (default: layerkit-demo-loss.png)",
    )

    train = sub.add_parser(
        "train",
        help="run an experiment file: writes the model, a metrics JSON and a loss-curve PNG",
        description="Train the network an experiment file (TOML or JSON) describes. "
        "The file is validated first; every problem is listed with its field path.",
        epilog=EXAMPLE_EXPERIMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument(
        "experiment", metavar="EXPERIMENT", type=Path, help="experiment file (.toml or .json)"
    )
    train.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing but errors and warnings"
    )

    default_class, sub._parser_class = sub._parser_class, _PredictParser  # its own error()
    predict = sub.add_parser(
        "predict",
        usage="%(prog)s [-h] model data -o OUTPUT [--proba] [--keep COLUMN [COLUMN ...]] "
        "[--plugin MODULE]",
        help="predict with a saved model for every row of a CSV or Parquet file",
        description="Write one prediction per row of DATA to OUTPUT (CSV, or Parquet if "
        "OUTPUT ends in .parquet). The model's input columns are found by name when it "
        "has feature names (trained with `layerkit train`, or in Python on a pandas "
        "DataFrame); otherwise DATA's columns are used in order. Plugins are looked for in "
        "the current directory, next to MODEL and in the folder above it.",
    )
    sub._parser_class = default_class
    predict.add_argument("model", type=Path, help="model file written by layerkit")
    predict.add_argument("data", type=Path, help="CSV or Parquet file of input rows")
    predict.add_argument("-o", "--output", required=True, help="output file (-: stdout, as CSV)")
    predict.add_argument(
        "--proba", action="store_true", help="add one probability column per class"
    )
    predict.add_argument(
        "--keep",
        nargs="+",
        action="extend",
        default=[],
        metavar="COLUMN",
        help="copy these columns of DATA (put --keep after MODEL and DATA: it takes every "
        "value up to the next option; given twice, both lists are kept)",
    )
    _plugin_option(predict)

    inspect = sub.add_parser(
        "inspect",
        help="describe a model file: architecture, parameters, training history, format",
        description="Verify a model file (every array against its SHA-256) and describe "
        "it: format version, architecture and parameter counts, loss, optimizer, "
        "classes, training history and the hyperparameters that differ from the defaults.",
    )
    inspect.add_argument("model", type=Path, help="model file written by layerkit")
    inspect.add_argument("--json", action="store_true", help="print the description as JSON")
    _plugin_option(inspect)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


class _PredictParser(argparse.ArgumentParser):
    """predict's parser: a missing MODEL or DATA after a --keep gets a hint (--keep takes
    every value up to the next option, the files included)."""

    given: tuple[str, ...] = ()  # the command line (set by main)

    def error(self, message: str) -> NoReturn:
        keep = any(a.startswith("--kee") for a in self.given)
        if keep and ("required: model" in message or "required: data" in message):
            message += (
                " (if they were given after --keep, it took them as column names: put "
                "--keep after the model and the data)"
            )
        super().error(message)


def _plugin_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (it defines the model's own layers); repeatable",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``layerkit`` console script; returns the exit status."""
    parser = _parser()
    _PredictParser.given = tuple(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    shown = warnings.showwarning

    def show(message: Any, category: Any, *where: Any, **more: Any) -> None:
        # one line in the command's voice: not the library's file and source line
        print(f"layerkit {args.command}: warning: {message}", file=sys.stderr)

    if argv is None:  # (the console command; a Python caller keeps its own recording)
        warnings.showwarning = show
    try:
        return _run(args)
    except CLIError as err:
        print(f"layerkit {args.command}: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (``| head``): nothing left to say
        from ._progress import silence_stdout

        silence_stdout()  # (so the interpreter's final flush is quiet)
        return 1
    except OSError as err:  # a file that cannot be read or written, named by the OS
        where = f" {err.filename}:" if err.filename else ""
        print(f"layerkit {args.command}: error:{where} {err.strerror or err}", file=sys.stderr)
        return 1
    except MemoryError as err:  # (numpy's names the array: "Unable to allocate 298. GiB...")
        advice = (
            "smaller layers (units), a smaller batch_size or less data need less"
            if args.command == "train"
            else "less data at once (split the file), or a machine with more memory"
        )
        print(
            f"layerkit {args.command}: error: out of memory: "
            f"{str(err) or 'an allocation failed'}; {advice}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"layerkit {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = shown


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from ._demo import run_demo
        from ._tables import check_output

        check_output(args.plot, "--plot")
        result = run_demo(random_state=args.random_state, max_iter=args.max_iter, plot=args.plot)
        return 0 if result["accuracy"] >= 0.95 and result["gradient_check_passed"] else 1
    if args.command == "train":
        from ._train import train

        train(args.experiment, quiet=args.quiet)
        return 0
    if args.command == "predict":
        from ._predict import predict

        n = predict(
            args.model,
            args.data,
            args.output,
            proba=args.proba,
            keep=args.keep,
            plugins=args.plugin,
        )
        if str(args.output) != "-":  # (on stdout, the predictions are all there is)
            print(f"wrote {n} predictions to {args.output}")
        return 0
    from ._inspect import as_json, describe, render_or_refuse

    info = describe(args.model, args.plugin)
    if args.json:
        print(json.dumps(as_json(info), indent=2, allow_nan=False))
    else:
        print(render_or_refuse(info, args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
