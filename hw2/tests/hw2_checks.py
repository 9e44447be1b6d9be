"""Comparisons that several hw2 tests make on what a submission returns."""
import torch


def assert_gradients_close(got: dict, expected: dict, what: str, hint: str = "", atol_scale: float = 1e-5) -> None:
    """Every expected gradient is present in ``got`` and close to its expected value. The absolute tolerance is
    ``atol_scale`` of the largest expected gradient: a conv bias before batch norm has a zero gradient in exact
    arithmetic, and what is left of it is rounding noise that depends on the number of threads."""
    missing = [name for name in expected if got.get(name) is None]
    assert not missing, f"{missing} received no {what}"
    scale = max(gradient.abs().max().item() for gradient in expected.values())
    for name, gradient in expected.items():
        torch.testing.assert_close(got[name], gradient, rtol=1e-3, atol=atol_scale * scale,
                                   msg=f"the {what} of {name}" + (f": {hint}" if hint else ""))
