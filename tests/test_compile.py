"""``torch.compile(model, fullgraph=True)`` on models holding ``Hybrid``, in a fresh process: one graph (the layer
is the opaque operator ``hqnn::evaluate``), and the same values and gradients as eager mode."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import torch
    from hqnn.app.models import Net

    torch.set_num_threads(1)
    models = {
        "closed form": lambda: Net(backend="analytic"),
        "shift rule on Aer": lambda: Net(backend="aer", seed=1),
        "closed-form shots": lambda: Net(backend="emulator", seed=1),
        "reverse mode": lambda: Net(backend="analytic", n_qubits=3, n_classes=3, reps=1),
        "shift rule on the emulator": lambda: Net(backend="emulator", n_qubits=3, n_classes=3, reps=1, seed=2),
    }
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    for name, make in models.items():
        torch.manual_seed(0)
        eager = make().eval()
        torch.manual_seed(0)
        model = make().eval()
        compiled = torch.compile(model, fullgraph=True)
        for _ in range(2):  # the second call reuses the graph
            for net in (compiled, eager):
                net.zero_grad()
                out = net(x)
                out[:, 0].sum().backward()
                if net is compiled:
                    values, grad = out.detach(), model.fc1.weight.grad.clone()
            torch.testing.assert_close(values, out.detach(), atol=1e-5, rtol=0, msg=name)
            torch.testing.assert_close(grad, eager.fc1.weight.grad, atol=1e-5, rtol=0, msg=name)
        print("ok", name)
    """
)


def test_compiled_models_match_eager_in_a_fresh_process():
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    assert run.stdout.count("ok ") == 5
