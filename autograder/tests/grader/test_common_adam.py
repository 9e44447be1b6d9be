"""common.adam.Adam, which the tests' short training runs use in the worker: torch.optim.Adam's steps, to the bit,
without importing torch._dynamo."""
import subprocess
import sys

import torch

from common.adam import Adam
from harness import KIT_ROOT


def run_steps(make_optimizer, steps: int = 7) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    spare = torch.nn.Parameter(torch.randn(4))          # gets a gradient on every other step only
    optimizer = make_optimizer([*model.parameters(), spare])
    inputs = torch.randn(8, 3)
    for step in range(steps):
        loss = model(inputs).square().mean() + (spare.square().sum() if step % 2 else 0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return [p.detach().clone() for p in (*model.parameters(), spare)]


def test_adam_takes_torch_optims_steps_exactly():
    for lr, betas in ((1e-3, (0.9, 0.999)), (3e-2, (0.5, 0.9))):
        ours = run_steps(lambda parameters: Adam(parameters, lr=lr, betas=betas))
        torchs = run_steps(lambda parameters: torch.optim.Adam(parameters, lr=lr, betas=betas))
        for mine, theirs in zip(ours, torchs):
            assert torch.equal(mine, theirs)
        assert not torch.equal(ours[-1], run_steps(lambda parameters: Adam(parameters, lr=lr, betas=betas), steps=1)[-1])


def test_adam_does_not_import_dynamo():
    script = ("import sys, torch\n"
              "from common.adam import Adam\n"
              "p = torch.nn.Parameter(torch.ones(3)); o = Adam([p]); p.sum().backward(); o.step(); o.zero_grad()\n"
              "assert p.grad is None and (p < 1).all()\n"
              "print('torch._dynamo' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=KIT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
