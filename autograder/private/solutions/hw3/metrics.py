"""How to evaluate a Bayesian meta-learner: is its uncertainty right, not just its mean?

- Negative log-likelihood (NLL) of held-out targets: the one number that rewards a right
  mean *and* a right spread. MSE of the predictive mean says nothing about the spread.
- Calibration, regression: a central 90% predictive interval should hold 90% of the targets
  (coverage); more generally the predictive CDF at the target, F(y), should be uniform on
  [0, 1], so that for every level p a fraction p of targets has F(y) <= p.
- Calibration, classification: among the predictions made with confidence about 0.8, about
  80% should be right (the reliability diagram, and its summary, the ECE).
- Ambiguity: do the sampled hypotheses cover every concept that fits the support set?
"""
from __future__ import annotations

import torch

QUANTILE_LEVELS = tuple(round(0.05 * k, 2) for k in range(1, 20))  # 0.05, 0.10, ..., 0.95


def interval_coverage(cdf: torch.Tensor, level: float = 0.9) -> float:
    """Fraction of targets inside the central ``level`` predictive interval.

    Args:
        cdf: the predictive CDF at each target, F(y), any shape.
        level: e.g. 0.9: the interval runs from the 5% to the 95% predictive quantile.
    """
    # BEGIN SOLUTION
    # y lies in the central interval exactly when (1 - level) / 2 <= F(y) <= 1 - (1 - level) / 2.
    tail = (1 - level) / 2
    return ((cdf >= tail) & (cdf <= 1 - tail)).float().mean().item()
    # END SOLUTION


def quantile_calibration_error(cdf: torch.Tensor, levels: tuple[float, ...] = QUANTILE_LEVELS) -> float:
    """Mean over levels p of | fraction of targets with F(y) <= p  -  p |: zero when perfectly calibrated."""
    # BEGIN SOLUTION
    # For each level, the observed fraction of cdf values at most p; the mean absolute gap to p.
    levels_tensor = torch.tensor(levels, dtype=cdf.dtype, device=cdf.device)
    observed = (cdf.reshape(-1, 1) <= levels_tensor).float().mean(0)
    return (observed - levels_tensor).abs().mean().item()
    # END SOLUTION


def reliability(probabilities: torch.Tensor, labels: torch.Tensor, num_bins: int = 15) -> dict[str, torch.Tensor]:
    """The reliability diagram of binary predictions, and its expected calibration error.

    Args:
        probabilities: predicted probability of label 1, any shape.
        labels: 0/1 labels, the same shape.
        num_bins: equal-width bins of the confidence over [0, 1] (confidence 1 goes in the last bin).

    Returns:
        confidence, accuracy: [num_bins], the mean confidence and the accuracy of the predictions in each
            bin (0 where a bin is empty); count: [num_bins] how many predictions fell in each bin;
        ece: a scalar tensor, sum over bins of count / total * |accuracy - confidence|.
        A prediction is label 1 when probability >= 0.5; its confidence is max(probability, 1 - probability).
    """
    # BEGIN SOLUTION
    # Flatten; predicted label, confidence and correctness of each prediction; the bin of each confidence
    # (clamped so that 1.0 lands in the last bin); per-bin sums with Tensor.index_add_ or torch.bincount.
    probabilities, labels = probabilities.flatten().double(), labels.flatten().double()
    predicted = (probabilities >= 0.5).double()
    confidence = torch.maximum(probabilities, 1 - probabilities)
    correct = (predicted == labels).double()
    bins = (confidence * num_bins).long().clamp(max=num_bins - 1)
    count = torch.bincount(bins, minlength=num_bins).double()
    confidence_sum = torch.bincount(bins, weights=confidence, minlength=num_bins)
    correct_sum = torch.bincount(bins, weights=correct, minlength=num_bins)
    safe = count.clamp_min(1)
    mean_confidence, accuracy = confidence_sum / safe, correct_sum / safe
    ece = (count / count.sum() * (accuracy - mean_confidence).abs()).sum()
    # END SOLUTION
    return {"confidence": mean_confidence.float(), "accuracy": accuracy.float(), "count": count.float(),
            "ece": ece.float()}


def mode_coverage(hypotheses: torch.Tensor, concepts: torch.Tensor, agreement: float = 0.95) -> torch.Tensor:
    """Which of the concepts that fit a task are represented by at least one sampled hypothesis.

    Args:
        hypotheses: 0/1 [B, S, V], the labels that each of S hypotheses (particles, samples) gives V probe inputs.
        concepts: 0/1 [B, C, V], the labels that each of the C consistent concepts gives them.
        agreement: a hypothesis represents a concept when they agree on at least this fraction of the probes.

    Returns:
        [B]: the fraction of the C concepts represented, per task.
    """
    # BEGIN SOLUTION
    # Agreement of every hypothesis with every concept [B, S, C]; a concept is covered when some hypothesis
    # reaches the threshold.
    agree = (hypotheses.unsqueeze(2) == concepts.unsqueeze(1)).float().mean(-1)  # [B, S, C]
    return (agree >= agreement).any(1).float().mean(-1)
    # END SOLUTION
