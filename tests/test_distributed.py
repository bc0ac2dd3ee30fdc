"""Two gloo processes on loopback: gradients are averaged over replicas and the replicas stay identical."""

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from hqnn import Hybrid
from hqnn.distributed import launch


def _model(backend, shots, seed):
    torch.manual_seed(100 + seed)  # different initial weights per rank: DDP must broadcast rank 0's
    return nn.Sequential(nn.Linear(4, 1), Hybrid(backend, shots, seed=seed))


def _batch(rank):
    g = torch.Generator().manual_seed(rank)
    return torch.randn(8, 4, generator=g), torch.rand(8, 1, generator=g)


def _worker(rank, world_size, steps):
    x, y = _batch(rank)
    # Exact backend: the local gradient (no_sync) is deterministic, so the averaged one can be checked.
    exact = DistributedDataParallel(_model("analytic", None, rank))
    with exact.no_sync():
        nn.functional.mse_loss(exact(x), y).backward()
    local = exact.module[0].weight.grad.clone()
    exact.zero_grad()
    nn.functional.mse_loss(exact(x), y).backward()
    averaged = exact.module[0].weight.grad.clone()

    # Shot backend with a distinct seed per rank: train a few steps.
    model = DistributedDataParallel(_model("aer", 100, seed=rank))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        noise = model.module(torch.zeros(64, 4))
    state = {k: v.clone() for k, v in model.module.state_dict().items()}
    return local, averaged, state, noise


def test_two_process_gradients_averaged_and_replicas_identical():
    results = launch(2, _worker, 4, timeout_s=120)
    (local0, avg0, state0, noise0), (local1, avg1, state1, noise1) = results
    assert not torch.allclose(local0, local1)
    torch.testing.assert_close(avg0, (local0 + local1) / 2, atol=1e-6, rtol=0)
    torch.testing.assert_close(avg0, avg1, atol=0, rtol=0)
    for key in state0:
        assert torch.equal(state0[key], state1[key]), key
    assert not torch.equal(noise0, noise1), "each rank must draw its own shot noise"
