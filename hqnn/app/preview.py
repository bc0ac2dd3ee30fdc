"""``hqnn train --dry-run``: what a recipe will submit before it runs — jobs, circuits and executions (circuits ×
shots) per step, per epoch and for the whole run, from :meth:`hqnn.Hybrid.cost` and the exact batch sizes the
data loader will make (``ddp`` processes each take ``ceil(n / ddp)`` samples, the last batch is smaller).
Evaluation (the test split with ``--eval-shots``, and the shown predictions, forward only) is counted apart. Nothing runs, nothing
is written, no data is loaded."""

from __future__ import annotations

from dataclasses import dataclass

from ..cost import JobCost
from .config import RunConfig

#: Images in ``predictions.png`` (``hqnn.app.cli.SHOWN_PREDICTIONS``), one forward at the end of a run.
SHOWN = 12
#: ``hqnn.app.train.evaluate``'s batch.
EVALUATION_BATCH = 256


@dataclass(frozen=True)
class RunCost:
    """A recipe's quantum cost: one full step (per process), one epoch and all epochs (all processes), and the
    evaluation after training."""

    step: JobCost
    steps_per_epoch: int
    epoch: JobCost
    run: JobCost
    evaluation: JobCost


def batches(n: int, size: int) -> list[tuple[int, int]]:
    """``(batch size, how many)`` of a loader over ``n`` samples in batches of ``size`` (the last one smaller)."""
    full, rest = divmod(n, size)
    return [(size, full)] * bool(full) + [(rest, 1)] * bool(rest)


def run_cost(config: RunConfig) -> RunCost:
    """The cost of training ``config`` (see the module docstring); a classical head costs nothing."""
    from ..layer import Hybrid
    from .models import build_model
    from .train import evaluated_with

    model = build_model(config)
    layers = [m for m in model.modules() if isinstance(m, Hybrid)]

    def cost(batch: int, backward: bool = True) -> JobCost:
        return sum((layer.cost(batch, backward) for layer in layers), JobCost(0, 0, 0))

    per_process = -(-config.train_per_class * config.n_classes // config.ddp)  # DistributedSampler pads
    epoch_batches = batches(per_process, config.batch_size)
    epoch = sum((cost(b) * (k * config.ddp) for b, k in epoch_batches), JobCost(0, 0, 0))
    test = config.test_per_class * config.n_classes
    with evaluated_with(model, config.eval_shots):  # --eval-shots: exact (0), emulated shots, or as trained
        tests = sum((cost(b, False) * k for b, k in batches(test, EVALUATION_BATCH)), JobCost(0, 0, 0))
    evaluation = tests + cost(min(SHOWN, test), False)  # the shown predictions run on the layers as trained
    steps = sum(k for _, k in epoch_batches)
    return RunCost(cost(min(config.batch_size, per_process)), steps, epoch, epoch * config.epochs, evaluation)


def format_preview(config: RunConfig, cost: RunCost, description: str) -> str:
    """The dry run's report: a table of jobs, circuits and executions."""
    n_train = config.train_per_class * config.n_classes
    processes = f" in each of {config.ddp} processes" if config.ddp > 1 else ""
    rows = [
        (f"per step (batch {min(config.batch_size, n_train)}{processes})", cost.step),
        (f"per epoch ({cost.steps_per_epoch} steps{processes})", cost.epoch),
        (f"whole run ({config.epochs} epochs)", cost.run),
        (f"evaluation ({config.test_per_class * config.n_classes} test digits + {SHOWN} shown, forward only)", cost.evaluation),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [
        f"dry run: {description}, {n_train} training digits {list(config.digits)}, batch {config.batch_size}, "
        f"{config.epochs} epochs; nothing runs, nothing is written",
        f"{'':{width}}  {'jobs':>12}  {'circuits':>15}  {'executions':>19}",
    ]
    lines += [f"{label:{width}}  {c.jobs:>12,}  {c.circuits:>15,}  {c.executions:>19,}" for label, c in rows]
    if config.head == "classical":
        lines.append("the classical head runs no circuits")
    return "\n".join(lines)
