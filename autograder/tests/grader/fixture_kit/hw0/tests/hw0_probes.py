"""Probes of hw0: run in the worker, return tensors."""
import torch


def softmax_of_seeded_logits(seed: int, temperature: float = 2.0):
    from hw0.ops import tempered_softmax

    logits = torch.randn(4, 5, generator=torch.Generator().manual_seed(seed), requires_grad=True)
    probabilities = tempered_softmax(logits, temperature)
    (probabilities[:, 0].sum()).backward()
    return {"probabilities": probabilities.detach(), "gradient": logits.grad}


def predict(state_dict: dict, features: torch.Tensor):
    from hw0.ops import Linear

    model = Linear(features.shape[1], state_dict["weight"].shape[0])
    model.load_state_dict(state_dict)
    with torch.no_grad():
        return model(features).argmax(dim=1)


def doubled_of(values: torch.Tensor):
    from hw0.scale import doubled

    return doubled(values)
