"""The plots of hw3 (provided): predictive bands against the optimum, reliability, active learning."""
from __future__ import annotations

from pathlib import Path

import torch

from data.regression import BayesOptimal, RegressionTasks


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_predictive_bands(path: Path, model, family: str, title: str, support_sizes=(1, 2, 5, 10),
                          seed: int = 7) -> None:
    """One task per column, with K support points: the model's mean and 90% band, sampled functions where the
    model has them, and the Bayes-optimal 90% band in dashed black."""
    plt = _pyplot()
    x = torch.linspace(-5, 5, 200).view(1, -1, 1)
    figure, axes = plt.subplots(1, len(support_sizes), figsize=(4 * len(support_sizes), 3.4), dpi=110, sharey=True)
    optimum = BayesOptimal(family)
    for axis, k in zip(axes, support_sizes):
        task = RegressionTasks(family, seed=seed).sample(1, k, 0)
        predictive = model.predict(task.x_support, task.y_support, x)
        mean, sd = predictive["mean"][0], predictive["variance"][0].sqrt()
        grid = x[0, :, 0]
        if hasattr(model, "sample_functions"):
            for function in model.sample_functions(task.x_support, task.y_support, x, 10)[0]:
                axis.plot(grid, function, color="tab:blue", alpha=0.25, linewidth=0.8)
        axis.fill_between(grid, mean - 1.645 * sd, mean + 1.645 * sd, color="tab:blue", alpha=0.2, label="model 90%")
        axis.plot(grid, mean, color="tab:blue", label="model mean")
        low, high = optimum.quantiles(task.x_support, task.y_support, x)[:, 0]
        axis.plot(grid, low, "k--", linewidth=1, label="Bayes-optimal 90%")
        axis.plot(grid, high, "k--", linewidth=1)
        axis.scatter(task.x_support[0, :, 0], task.y_support[0, :, 0], color="tab:red", zorder=3, label="support")
        axis.set_title(f"K = {k}")
        axis.set_ylim(-7, 7)
    axes[0].legend(fontsize=7, loc="lower left")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def plot_reliability(path: Path, reliability: dict, title: str) -> None:
    """Accuracy against confidence per bin, bars scaled by their share of predictions; the diagonal is perfect."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4.5, 4.5), dpi=110)
    count = torch.tensor(reliability["count"])
    filled = count > 0
    edges = torch.linspace(0, 1, len(count) + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    axis.bar(centers[filled], torch.tensor(reliability["accuracy"])[filled], width=1 / len(count), alpha=0.6,
             edgecolor="black", label="accuracy in bin")
    axis.plot(torch.tensor(reliability["confidence"])[filled], torch.tensor(reliability["accuracy"])[filled], "o",
              color="tab:red", label="(mean confidence, accuracy)")
    axis.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    axis.set_xlabel("confidence")
    axis.set_ylabel("accuracy")
    axis.set_title(title)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def plot_active_learning(path: Path, curves: dict[str, list[float]], title: str) -> None:
    """Test MSE against the number of support points, one line per strategy."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 3.6), dpi=110)
    for strategy, values in curves.items():
        axis.plot(range(1, len(values) + 1), values, marker="o", label=strategy)
    axis.set_xlabel("support points picked")
    axis.set_ylabel("test MSE")
    axis.set_yscale("log")
    axis.set_title(title)
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
