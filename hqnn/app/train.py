"""Fit and evaluate with torch's own Adam and DataLoader: seeded shuffling, a progress bar, a checkpoint per
epoch that holds everything needed to continue the run exactly (``resume``).

The quantum layer is just another module: its parameter-shift gradients arrive through autograd. Inside a
torch.distributed process group (see :mod:`hqnn.app.distributed`) each process trains on its shard of every epoch.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from .checkpoint import Checkpoint, TrainingState, load_checkpoint, save_checkpoint, set_shot_noise_state, shot_noise_state
from .config import RunConfig
from .distributed import launch, stop_requested
from .losses import loss_function
from ..layer import Hybrid
from ..strategies import choose_strategy
from .models import Net, build_model


@dataclass
class FitResult:
    """Mean training loss of each epoch, optimizer steps taken, wall-clock seconds, and the executions
    (circuits × shots) the quantum layers' training jobs submitted (all epochs, also those before a resume);
    ``checks``: the test evaluations every ``config.eval_every`` steps (step, executions, accuracy)."""

    train_loss: list[float]
    steps: int
    seconds: float
    executions: int = 0
    checks: list = field(default_factory=list)

    def first_reaching(self, target: float | None) -> dict | None:
        """The first check with accuracy ≥ ``target`` (None if none, or no target)."""
        if target is None:
            return None
        return next((check for check in self.checks if check["accuracy"] >= target), None)


@dataclass
class Evaluation:
    """Accuracy and mean loss on a test set, and the executions (circuits × shots) the evaluation ran."""

    accuracy: float
    loss: float
    executions: int = 0


def fit(
    model: nn.Module,
    train_set: Dataset,
    config: RunConfig,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
    resume: Checkpoint | None = None,
    test_set: Dataset | None = None,
) -> FitResult:
    """Train ``model`` for ``config.epochs`` epochs; after each, write ``checkpoint`` (when given) atomically.

    Shuffling, dropout and numpy's global RNG are drawn from ``config.seed``; the caller's global RNG states
    are left as they were. ``resume``: a checkpoint of this run (same config) to continue after its epoch,
    with its weights, Adam state, data order, RNG and shot-noise states, so the result equals an
    uninterrupted run's. In a process group ``model`` is a ``DistributedDataParallel``; rank 0 writes the
    checkpoint and shows the progress bar, each epoch's loss is the mean over all processes, and a stop
    requested by :func:`hqnn.app.distributed.launch`'s parent ends every process after the same epoch's
    checkpoint with ``KeyboardInterrupt``. With ``config.eval_every`` N > 0 and a ``test_set``, the model is
    evaluated (``config.eval_shots``) every N steps; evaluation draws no training randomness and its jobs are
    not counted in the training executions.
    """
    distributed = dist.is_available() and dist.is_initialized()
    rank = dist.get_rank() if distributed else 0
    network = getattr(model, "module", model)
    if distributed:
        sampler = DistributedSampler(train_set, shuffle=True, seed=config.seed)
        loader = DataLoader(train_set, batch_size=config.batch_size, sampler=sampler)
        shuffle = None
    else:
        shuffle = torch.Generator().manual_seed(config.seed)
        loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True, generator=shuffle)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = loss_function(config.loss)
    history, steps, earlier_seconds, first_epoch = [], 0, 0.0, 1
    executions, checks = 0, []
    if resume is not None:
        training = _training_state(resume, config)
        network.load_state_dict(resume.model.state_dict())
        optimizer.load_state_dict(training.optimizer)
        if shuffle is not None:
            shuffle.set_state(training.shuffle)
        history, steps, earlier_seconds = list(resume.train_loss), training.steps, training.seconds
        executions, checks = (training.executions if rank == 0 else 0), list(training.checks)
        first_epoch = resume.epoch + 1
    start = time.perf_counter()
    with _seeded_global_rngs(config.seed + rank):
        if resume is not None:
            _set_rng_states(network, training.ranks[rank])
        for epoch in range(first_epoch, config.epochs + 1):
            if _stops(config, checks):  # a resumed run that had reached its target is finished
                break
            if distributed:
                sampler.set_epoch(epoch)
            model.train()
            total, seen = 0.0, 0
            bar = tqdm(loader, desc=f"epoch {epoch}/{config.epochs}", unit="batch", disable=not progress or rank)
            for images, target in bar:
                optimizer.zero_grad()
                before = spent_executions(network)
                loss = loss_fn(model(images), target)
                loss.backward()
                executions += spent_executions(network) - before
                optimizer.step()
                steps += 1
                if config.eval_every and test_set is not None and steps % config.eval_every == 0:
                    noise = shot_noise_state(network)  # evaluating must not move training's shot noise
                    accuracy = evaluate(network, test_set, config.loss, shots=config.eval_shots, seed=config.seed).accuracy
                    set_shot_noise_state(network, noise)
                    checks.append({"step": steps, "executions": executions, "accuracy": accuracy})
                    model.train()
                total += loss.item() * len(target)
                seen += len(target)
                bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
                if _stops(config, checks):
                    break
            history.append(_mean_over_processes(total, seen) if distributed else total / seen)
            if checkpoint is not None:
                ranks = _all_processes(_rng_states(network), distributed)
                spent = sum(_all_processes(executions, distributed))
                if rank == 0:
                    seconds = earlier_seconds + time.perf_counter() - start
                    state = TrainingState(optimizer.state_dict(), steps, seconds, _state(shuffle), ranks, spent, checks)
                    save_checkpoint(checkpoint, network, config, epoch, history, state)
            if distributed and _any_process(stop_requested()) and epoch < config.epochs:
                raise KeyboardInterrupt(f"stopped on request after epoch {epoch}")
            if _stops(config, checks):
                break
    if distributed:
        executions = sum(_all_processes(executions, distributed))
    return FitResult(history, steps, earlier_seconds + time.perf_counter() - start, executions, checks)


def train_model(
    config: RunConfig,
    train_set: Dataset,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
    resume: str | os.PathLike | None = None,
    test_set: Dataset | None = None,
) -> tuple[Net, FitResult]:
    """Build the model ``config`` describes and fit it, in ``config.ddp`` data-parallel processes if > 1;
    ``resume``: a checkpoint file of this run to continue from; ``test_set``: for ``config.eval_every``
    (see :func:`fit`).

    The returned model's shot noise stands where rank 0's stood after the last epoch, the state its last
    checkpoint holds, so evaluating it gives what ``hqnn evaluate`` on that checkpoint gives.
    """
    if config.ddp == 1:
        start = None if resume is None else load_checkpoint(resume)
        model = build_model(config)
        return model, fit(model, train_set, config, checkpoint, progress, start, test_set)
    state, noise, result = launch(config.ddp, _fit_replica, config, train_set, checkpoint, progress, resume)[0]
    model = build_model(config)
    model.load_state_dict(state)
    set_shot_noise_state(model, noise)
    return model, result


def _fit_replica(rank: int, world_size: int, config: RunConfig, train_set: Dataset, checkpoint, progress: bool, resume):
    """One data-parallel process: its own executor seed, gradients averaged by DistributedDataParallel."""
    start = None if resume is None else load_checkpoint(resume)
    replica = nn.parallel.DistributedDataParallel(build_model(config, rank))
    result = fit(replica, train_set, config, checkpoint, progress, start)
    return (replica.module.state_dict(), shot_noise_state(replica.module), result) if rank == 0 else None


def _stops(config: RunConfig, checks: list[dict]) -> bool:
    """Whether ``--stop-at-target`` ends training: the last check reached the target accuracy."""
    return bool(config.stop_at_target and checks and checks[-1]["accuracy"] >= config.target_accuracy)


def _training_state(resume: Checkpoint, config: RunConfig) -> TrainingState:
    if resume.config != config:
        raise ValueError(f"cannot resume: the checkpoint was trained with {resume.config}, not {config}")
    if resume.training is None:
        raise ValueError(
            "cannot resume: this checkpoint was written by an older hqnn (format 1) without optimizer and RNG "
            "state; evaluate and predict still read it, but training must start again"
        )
    return resume.training


@contextmanager
def _seeded_global_rngs(seed: int) -> Iterator[None]:
    """torch's and numpy's global RNGs seeded with ``seed`` inside; the caller's states restored after."""
    numpy_state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)


def _rng_states(network: nn.Module) -> dict:
    """This process's global torch and numpy RNG states and its layers' shot-noise states."""
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(legacy=False), "shot_noise": shot_noise_state(network)}


def _set_rng_states(network: nn.Module, states: dict) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    set_shot_noise_state(network, states["shot_noise"])


def _state(generator: torch.Generator | None) -> torch.Tensor | None:
    return None if generator is None else generator.get_state()


def _all_processes(value, distributed: bool) -> list:
    """``[value]`` of every process, by rank (one process: ``[value]``)."""
    if not distributed:
        return [value]
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def _any_process(flag: bool) -> bool:
    """Whether ``flag`` is true in any process of the group: every process gets the same answer."""
    flags = torch.tensor([int(flag)])
    dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return bool(flags.item())


def _mean_over_processes(total: float, seen: int) -> float:
    sums = torch.tensor([total, seen], dtype=torch.float64)
    dist.all_reduce(sums)
    return float(sums[0] / sums[1])


@torch.no_grad()
def predict_proba(model: Net, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Class probabilities (N, n_classes) for images (N, 1, 28, 28), in eval mode (no dropout)."""
    model.eval()
    return torch.cat([model(chunk) for chunk in images.split(batch_size)])


def spent_executions(model: nn.Module) -> int:
    """Executions (circuits × shots) submitted so far by every quantum layer of ``model``."""
    return sum(layer.executions for layer in model.modules() if isinstance(layer, Hybrid))


@contextmanager
def evaluated_with(model: nn.Module, shots: int | None, seed: int = 0) -> Iterator[None]:
    """Inside, every quantum layer of ``model`` computes its outputs exactly (``shots=0``), from ``shots``
    emulated shots (the same distribution as Aer's, seeded by ``seed``), or as trained (``None``)."""
    if shots is None:
        yield
        return
    layers = [layer for layer in model.modules() if isinstance(layer, Hybrid)]
    trained = [layer.strategy for layer in layers]
    try:
        for layer in layers:
            name, count = ("analytic", None) if shots == 0 else ("emulator", shots)
            layer.strategy = choose_strategy(name, layer.spec, count, math.pi / 2, seed)  # no gradient here: only base rows run
        yield
    finally:
        for layer, strategy in zip(layers, trained):
            layer.strategy = strategy


@torch.no_grad()
def evaluate(
    model: Net, test_set: Dataset, loss: str = "chapter", batch_size: int = 256, shots: int | None = None, seed: int = 0
) -> Evaluation:
    """Accuracy and mean loss of ``model`` on ``test_set``, in eval mode: with its quantum layers as trained
    (``shots=None``), exact (0) or with ``shots`` emulated shots (see :func:`evaluated_with`)."""
    with evaluated_with(model, shots, seed):
        before = spent_executions(model)
        scores = _evaluate(model, test_set, loss, batch_size)
        scores.executions = spent_executions(model) - before
        return scores


def _evaluate(model: Net, test_set: Dataset, loss: str, batch_size: int) -> Evaluation:
    model.eval()
    loss_fn = loss_function(loss, reduction="sum")
    correct, total, seen = 0, 0.0, 0
    for images, target in DataLoader(test_set, batch_size=batch_size):
        probs = model(images)
        correct += int((probs.argmax(-1) == target).sum())
        total += float(loss_fn(probs, target))
        seen += len(target)
    return Evaluation(correct / seen, total / seen)
