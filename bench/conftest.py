"""Shared settings of the timing runs: ``--smoke`` shrinks every benchmark to a seconds-long check of the code."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # bench/baselines.py


def pytest_configure(config):
    """One thread per library for every system: the machine has 2 shared cores, and torch's, numba's and
    Aer's thread pools spinning against each other cost 5-20× at these sizes (measured)."""
    import numba
    import torch

    torch.set_num_threads(1)
    numba.set_num_threads(1)


def pytest_addoption(parser):
    parser.addoption("--smoke", action="store_true", help="tiny sizes: check that the benchmarks run, time nothing")


@pytest.fixture(scope="session")
def smoke(request) -> bool:
    return request.config.getoption("--smoke")


def pytest_benchmark_update_machine_info(config, machine_info):
    import numba
    import qiskit
    import qiskit_aer
    import torch

    machine_info["libraries"] = {
        "torch": torch.__version__,
        "qiskit": qiskit.__version__,
        "qiskit_aer": qiskit_aer.__version__,
        "numba": numba.__version__,
    }
    try:
        import qiskit_machine_learning

        machine_info["libraries"]["qiskit_machine_learning"] = qiskit_machine_learning.__version__
    except ImportError:
        pass
    machine_info["cores"] = os.cpu_count()
    machine_info["torch_threads"] = torch.get_num_threads()
    machine_info["numba_threads"] = numba.get_num_threads()
    machine_info["openblas_threads"] = os.environ.get("OPENBLAS_NUM_THREADS", "numpy's default")
    machine_info["load_average"] = os.getloadavg()
    machine_info["platform"] = platform.platform()
