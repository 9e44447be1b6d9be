"""The experiments of hw3's written part (hw3/report/questions.md): one command per question.

    python -m hw3.experiments gap              # Q1: CNP and latent model against the optimum, K = 1, 2, 5, 10
    python -m hw3.experiments calibration      # Q2: how often the targets fall under each predicted quantile
    python -m hw3.experiments ambiguity        # Q3: sinusoid or line: what each method says from 2 points
    python -m hw3.experiments active_learning  # Q4: picking points by predictive entropy, or at random
    python -m hw3.experiments particles        # Q5: an ensemble of MAMLs against SVGD on ambiguous attributes
    python -m hw3.experiments all              # the five, about 25 minutes on one thread

Q1, Q2 and Q4 measure your graded checkpoints (hw3/checkpoints/); Q3 and Q5 train short runs of
``--minutes`` each into runs/hw3/report/ (a finished run is reused, so a second call only redraws).
Each writes hw3/report/figures/<question>.png and .pdf, which the report template shows, and
<question>.json with the numbers to quote.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from common.report import new_figure, question_parser, run_once, run_questions, save_figure
from data.regression import BayesOptimal, RegressionTasks
from hw3 import main as hw3_main
from hw3.active import active_learning_curve
from hw3.evaluate import TEST_SEED, evaluate_classification, evaluate_regression, line_or_sinusoid, regression_tasks

FIGURES = Path("hw3/report/figures")  # relative to the kit's folder, where the commands run
RUNS = Path("runs/hw3/report")
SUPPORT_SIZES = (1, 2, 5, 10)
LABELS = {"cnp": "CNP (Version 0)", "latent": "latent variable (amortized VI)", "ensemble": "ensemble of MAMLs",
          "svgd": "SVGD (Bayesian MAML)"}


def graded_model(args: argparse.Namespace, name: str):
    """Your graded checkpoint ``name`` (a clear error if you have not trained it yet)."""
    return hw3_main.load_model(args.checkpoint_dir / f"{name}.pt")[1]


def trained_model(args: argparse.Namespace, method: str, family: str):
    """A short run of hw3.main (``--minutes`` of training) unless it finished before: its model."""
    name = f"{method}_{family}"
    checkpoint = RUNS / "checkpoints" / f"{name}.pt"
    run_once(checkpoint, lambda: hw3_main.main([
        "--method", method, "--family", family, "--time_limit", str(args.minutes), "--num_train_iterations", "1000000",
        "--val_interval", "500", "--num_val_tasks", "100", "--num_test_tasks", "100", "--threads", str(args.threads),
        "--device", "cpu", "--random_seed", str(args.seed), "--runs_dir", str(RUNS), "--checkpoint_dir", str(checkpoint.parent)]))
    return hw3_main.load_model(checkpoint)[1]


def gap(args: argparse.Namespace) -> dict:
    """Q1: NLL and MSE per query point at each K, next to the Bayes-optimal predictor's (500 tasks)."""
    figure, (nll_axis, mse_axis) = new_figure(columns=2)
    numbers = {}
    for method in ("cnp", "latent"):
        model = graded_model(args, f"{method}_sinusoid")
        results = {k: evaluate_regression(model, "sinusoid", k, args.num_tasks) for k in SUPPORT_SIZES}
        numbers[method] = {f"K{k}": {"nll": r["model"]["nll"], "optimum_nll": r["optimum"]["nll"],
                                     "mse": r["model"]["mse"], "optimum_mse": r["optimum"]["mse"]} for k, r in results.items()}
        nll_axis.plot(SUPPORT_SIZES, [r["model"]["nll"] for r in results.values()], marker="o", label=LABELS[method])
        mse_axis.plot(SUPPORT_SIZES, [r["model"]["mse"] for r in results.values()], marker="o", label=LABELS[method])
    for axis, metric in ((nll_axis, "nll"), (mse_axis, "mse")):
        axis.plot(SUPPORT_SIZES, [results[k]["optimum"][metric] for k in SUPPORT_SIZES], "k--", marker="s",
                  label="Bayes-optimal")
        axis.set_xscale("log")
        axis.set_xticks(SUPPORT_SIZES, [str(k) for k in SUPPORT_SIZES])
        axis.set_xlabel("support points K")
        axis.legend()
    nll_axis.set_ylabel("NLL per query point")
    mse_axis.set_ylabel("MSE of the predictive mean")
    mse_axis.set_yscale("log")
    figure.suptitle("sinusoids: the gap to the best possible predictor")
    save_figure(figure, FIGURES / "gap")
    return numbers


def calibration(args: argparse.Namespace) -> dict:
    """Q2: the fraction of query targets under each predicted quantile (the PIT's CDF), at K = 1 and 5."""
    levels = torch.linspace(0, 1, 21)
    figure, axes = new_figure(columns=2)
    numbers = {}
    models = {method: graded_model(args, f"{method}_sinusoid") for method in ("cnp", "latent")}
    for axis, k in zip(axes, (1, 5)):
        tasks = regression_tasks("sinusoid", k, args.num_tasks, 50, TEST_SEED)
        inputs = (tasks.x_support, tasks.y_support, tasks.x_query, tasks.y_query)
        predictors = {LABELS[m]: model.predict for m, model in models.items()}
        predictors["Bayes-optimal"] = BayesOptimal("sinusoid").predict
        for label, predict in predictors.items():
            cdf = torch.cat([predict(*(t[s:s + 25] for t in inputs))["cdf"] for s in range(0, len(tasks), 25)])
            under = (cdf.flatten().unsqueeze(0) <= levels.unsqueeze(1)).float().mean(1)
            style = {"color": "black", "linestyle": "--"} if label == "Bayes-optimal" else {}
            axis.plot(levels, under, label=label, **style)
            numbers.setdefault(label, {})[f"K{k}"] = {
                "fraction_under_level": dict(zip([round(v, 2) for v in levels.tolist()], under.tolist())),
                "coverage90": ((cdf >= 0.05) & (cdf <= 0.95)).float().mean().item()}
        axis.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
        axis.set_xlabel("predicted quantile level")
        axis.set_ylabel("fraction of targets below it")
        axis.set_title(f"K = {k}")
    axes[0].legend()
    save_figure(figure, FIGURES / "calibration")
    return numbers


def ambiguity(args: argparse.Namespace) -> dict:
    """Q3: CNP and latent model trained on sinusoid_or_line: one ambiguous 2-point task, and how often the latent
    model's sampled functions include both a line and a sinusoid where the optimum is unsure which it is."""
    models = {method: trained_model(args, method, "sinusoid_or_line") for method in ("cnp", "latent")}
    optimum = BayesOptimal("sinusoid_or_line")
    measured = line_or_sinusoid(models["latent"], num_tasks=args.num_tasks)
    tasks, p_line, ambiguous, x, samples = (measured[key] for key in ("tasks", "p_line", "ambiguous", "x", "samples"))
    numbers = {"ambiguous_tasks": measured["ambiguous_tasks"], "latent_both_kinds_on_ambiguous": measured["both_kinds"]}
    for method, model in models.items():
        result = {k: evaluate_regression(model, "sinusoid_or_line", k, args.num_tasks) for k in (1, 2, 5)}
        numbers[method] = {f"K{k}": {"nll": r["model"]["nll"], "optimum_nll": r["optimum"]["nll"]} for k, r in result.items()}

    task = int(ambiguous.nonzero()[0])  # the first ambiguous task
    one = tasks[task:task + 1]
    figure, axes = new_figure(columns=2)
    low, high = optimum.quantiles(one.x_support, one.y_support, x)[:, 0]
    for axis, method in zip(axes, ("cnp", "latent")):
        predictive = models[method].predict(one.x_support, one.y_support, x)
        mean, sd = predictive["mean"][0], predictive["variance"][0].sqrt()
        if method == "latent":
            for function in samples[task]:
                axis.plot(x[0, :, 0], function, color="tab:blue", alpha=0.35, linewidth=0.8)
        axis.fill_between(x[0, :, 0], mean - 1.645 * sd, mean + 1.645 * sd, color="tab:blue", alpha=0.2, label="90% band")
        axis.plot(x[0, :, 0], low, "k--", linewidth=1, label="Bayes-optimal 90%")
        axis.plot(x[0, :, 0], high, "k--", linewidth=1)
        axis.scatter(one.x_support[0, :, 0], one.y_support[0, :, 0], color="tab:red", zorder=3, label="support")
        axis.set_title(f"{LABELS[method]}; P(line | D) = {p_line[task]:.2f}")
        axis.set_ylim(-10, 10)
    axes[0].legend()
    save_figure(figure, FIGURES / "ambiguity")
    return numbers


def active_learning(args: argparse.Namespace) -> dict:
    """Q4: test MSE after 1..5 points picked by predictive entropy or at random (100 tasks, pools of 100)."""
    tasks = RegressionTasks("sinusoid", seed=TEST_SEED).sample(100, 0, 110)
    pool, test_points = (tasks.x_query[:, :100], tasks.y_query[:, :100]), (tasks.x_query[:, 100:], tasks.y_query[:, 100:])
    figure, axes = new_figure(columns=2)
    numbers = {}
    for axis, method in zip(axes, ("cnp", "latent")):
        model = graded_model(args, f"{method}_sinusoid")
        for strategy in ("entropy", "random"):
            curve = active_learning_curve(model, *pool, *test_points, 5, strategy,
                                          torch.Generator().manual_seed(TEST_SEED)).tolist()
            numbers.setdefault(method, {})[strategy] = curve
            axis.plot(range(1, 6), curve, marker="o", label=strategy)
        axis.set_yscale("log")
        axis.set_xlabel("support points picked")
        axis.set_ylabel("test MSE")
        axis.set_title(LABELS[method])
        axis.legend()
    save_figure(figure, FIGURES / "active_learning")
    return numbers


def particles(args: argparse.Namespace) -> dict:
    """Q5: your SVGD checkpoint against a short ensemble run on ambiguous attributes (1-shot, 500 tasks)."""
    models = {"svgd": graded_model(args, "svgd_attributes"), "ensemble": trained_model(args, "ensemble", "attributes")}
    numbers = {method: evaluate_classification(model, 1, args.num_tasks) for method, model in models.items()}
    figure, (bars, reliability) = new_figure(columns=2)
    names = ("accuracy", "mode_coverage", "ece")
    width = 0.38
    for offset, (method, result) in zip((-width / 2, width / 2), numbers.items()):
        bars.bar([i + offset for i in range(len(names))], [result[n] for n in names], width, label=LABELS[method])
        curve = result["reliability"]
        filled = [i for i, c in enumerate(curve["count"]) if c > 0]
        reliability.plot([curve["confidence"][i] for i in filled], [curve["accuracy"][i] for i in filled], marker="o",
                         label=LABELS[method])
    bars.set_xticks(range(len(names)), ["accuracy", "mode coverage", "ECE"])
    bars.axhline(numbers["svgd"]["optimum_accuracy"], color="black", linestyle="--", linewidth=0.8,
                 label="Bayes-optimal accuracy")
    bars.legend()
    reliability.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    reliability.set_xlabel("confidence")
    reliability.set_ylabel("accuracy")
    reliability.set_title("reliability")
    save_figure(figure, FIGURES / "particles")
    for result in numbers.values():
        result.pop("reliability")
    return numbers


QUESTIONS = {"gap": gap, "calibration": calibration, "ambiguity": ambiguity, "active_learning": active_learning,
             "particles": particles}


def main(argv=None) -> None:
    parser = question_parser(__doc__, QUESTIONS, hw3_main.CHECKPOINTS)
    parser.add_argument("--minutes", type=float, default=5.0, help="training minutes of each short run")
    parser.add_argument("--num_tasks", type=int, default=500, help="held-out tasks per measurement")
    run_questions(QUESTIONS, parser.parse_args(argv), FIGURES)


if __name__ == "__main__":
    main()
