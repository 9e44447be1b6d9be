"""The "it learns" check shared by hw2's two learners: the submission trains, the weights are judged here."""
import torch

import hw2_probes
from harness.plugin import received
from data.episodes import EpisodeSampler
from data.omniglot import load_omniglot
from data.splits import character_split

NUM_HELD_OUT = 100


def short_training_accuracies(impl, evaluator, method: str, steps: int, batch_size: int) -> tuple[float, float]:
    """Held-out query accuracy (5-way 1-shot, validation characters) before and after a short training run
    of the submission on the training characters; both measured by ``evaluator``, the reference on the grader."""
    omniglot = load_omniglot()
    train = torch.from_numpy(omniglot.images[character_split("train").characters])
    trained = impl.call(hw2_probes.short_training, train, method, steps=steps, batch_size=batch_size, timeout=300)
    sampler = EpisodeSampler(omniglot, character_split("val"), 5, 1, 5, seed=7)
    held_out = sampler.sample(NUM_HELD_OUT)
    support, support_labels, query, query_labels = held_out.x_support, held_out.y_support, held_out.x_query, held_out.y_query
    as_pixels = lambda images: (images * 255).round().to(torch.uint8)  # noqa: E731
    config = {"num_way": 5, "num_inner_steps": 1, "inner_lr": 0.4, "learn_inner_lrs": False, "first_order": True} \
        if method == "maml" else {}
    accuracies = []
    for state in (evaluator.call(hw2_probes.fresh_weights, method), trained["state_dict"]):
        checkpoint = {"kind": method, "config": config, "state_dict": state}
        logits = received(evaluator.call(hw2_probes.checkpoint_logits, checkpoint, as_pixels(support), support_labels,
                                         as_pixels(query), timeout=240),
                          shape=(NUM_HELD_OUT, 25, 5), name="the query logits", bound=1e30)
        accuracies.append((logits.argmax(-1) == query_labels).double().mean().item())
    print(f"held-out query accuracy on {NUM_HELD_OUT} tasks: {accuracies[0]:.3f} before, {accuracies[1]:.3f} after {steps} steps")
    return accuracies[0], accuracies[1]
