"""Meta-train and test the Bayesian meta-learners of hw3 on tasks with known priors.

    python -m hw3.main --method cnp                                   # Version 0, sinusoids, K in 1..10
    python -m hw3.main --method latent                                # amortized VI
    python -m hw3.main --method svgd --num_particles 10              # Bayesian MAML; --method ensemble: MAMLs
    python -m hw3.main --method svgd --family attributes --num_support 1 --min_support 1
    python -m hw3.main --method abml                                  # going further: ABML
    python -m hw3.main --method alpaca                                # going further: exact Bayesian heads
    python -m hw3.main --method cnp --test                            # the full evaluation and its plots

Regression tasks come from ``data.regression`` (``--family sinusoid`` or
``sinusoid_or_line``), classification tasks from ``data.attributes``
(``--family attributes``, particle methods only). Each training batch has
K support points, K drawn uniformly from ``--min_support`` to ``--num_support``,
so that one model serves every K. Every ``--val_interval`` steps the
validation NLL at K=5 (or the classification NLL) is logged to
``runs/hw3/<name>/log.csv`` and plotted, next to the Bayes-optimal value. At
the end ``--test`` runs, and the checkpoint ``hw3/checkpoints/<name>.pt`` (the
file to submit) is saved.

``--test`` measures NLL, MSE, 90% coverage and quantile calibration at
K = 1, 2, 5, 10 on ``--num_test_tasks`` tasks next to the Bayes-optimal
predictor, the active-learning curve, on ``sinusoid_or_line`` how often the
sampled functions hold both kinds where the optimum is unsure, and plots
predictive bands with the optimum overlaid (or, for attributes, accuracy,
ECE with the reliability diagram, and mode coverage), into ``runs/hw3/<name>/``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


import torch
from torch import nn
from tqdm import trange

from common.checkpoints import load_checkpoint, save_checkpoint
from common.training import (CsvLog, add_run_arguments, configure_device, plot_curves, return_freed_memory,
                             seed_everything)
from data.attributes import NUM_ATTRIBUTES, AmbiguousAttributes
from data.regression import RegressionTasks
from data.tasks import TaskBatch
from hw3.active import active_learning_curve
from hw3.evaluate import TEST_SEED, VALIDATION_SEED, evaluate_classification, evaluate_regression, line_or_sinusoid
from hw3.models import KINDS, build_model
from hw3.plots import plot_active_learning, plot_predictive_bands, plot_reliability

CHECKPOINTS = Path("hw3/checkpoints")  # relative to the kit's folder, where the commands run
TEST_SUPPORT_SIZES = (1, 2, 5, 10)


def model_config(args: argparse.Namespace) -> dict:
    """The constructor options of ``--method``'s model (hw3/models.py), saved in its checkpoint."""
    if args.method == "cnp":
        return {"hidden": args.hidden}
    if args.method == "latent":
        return {"hidden": args.hidden, "latent_dim": args.latent_dim, "num_samples": args.num_samples}
    if args.method == "alpaca":
        return {"width": args.width, "hidden": args.hidden, "num_components": args.num_components}
    if args.method == "abml":
        return {"num_inner_steps": args.num_inner_steps, "inner_lr": args.inner_lr, "first_order": args.first_order,
                "body_width": args.body_width}
    classification = args.family == "attributes"
    return {"input_dim": NUM_ATTRIBUTES if classification else 1,
            "likelihood": "bernoulli" if classification else "gaussian", "num_particles": args.num_particles,
            "num_inner_steps": args.num_inner_steps, "inner_lr": args.inner_lr, "first_order": args.first_order,
            "body_width": args.body_width}


class TaskSource:
    """TaskBatches (data/tasks.py) of one family, with a support size drawn per batch."""

    def __init__(self, family: str, min_support: int, max_support: int, num_query: int, seed: int):
        self.sampler = AmbiguousAttributes(seed) if family == "attributes" else RegressionTasks(family, seed=seed)
        self.support_sizes = (min_support, max_support)
        self.num_query = num_query
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self, batch_size: int) -> TaskBatch:
        low, high = self.support_sizes
        num_support = int(torch.randint(low, high + 1, (1,), generator=self.generator))
        return self.sampler.sample(batch_size, num_support, self.num_query)


def validate(model: nn.Module, family: str, num_tasks: int, device: torch.device) -> tuple[float, float]:
    """Validation NLL per query point (K=5 for regression, K=1 for attributes) and the optimum's.

    Evaluation runs on the CPU, where these small networks are at home; training may run elsewhere.
    """
    model.cpu().eval()
    if family == "attributes":
        result = evaluate_classification(model, 1, num_tasks, seed=VALIDATION_SEED)
        nll, optimum = result["nll"], result["optimum_nll"]
    else:
        result = evaluate_regression(model, family, 5, num_tasks, seed=VALIDATION_SEED)
        nll, optimum = result["model"]["nll"], result["optimum"]["nll"]
    model.to(device).train()
    return nll, optimum


def save_run(path: Path, args: argparse.Namespace, config: dict, model: nn.Module, step: int,
             train_seconds: float) -> None:
    """The model's checkpoint (common/checkpoints.py), with the tasks it was trained for and how long it took."""
    save_checkpoint(path, args.method, config, model,
                    {"family": args.family, "support_sizes": [args.min_support, args.num_support]},
                    step=step, train_seconds=train_seconds, args={k: str(v) for k, v in vars(args).items()})


def load_model(path: Path) -> tuple[dict, nn.Module]:
    """The checkpoint at ``path`` and its model, in evaluation mode."""
    checkpoint = load_checkpoint(path)
    model = build_model(checkpoint["kind"], checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    return checkpoint, model.eval()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", choices=KINDS, required=True)
    parser.add_argument("--family", choices=["sinusoid", "sinusoid_or_line", "attributes"], default="sinusoid")
    parser.add_argument("--num_support", type=int, default=None, help="K, the most support points (10; attributes: 1)")
    parser.add_argument("--min_support", type=int, default=1, help="the fewest support points of a training batch")
    parser.add_argument("--num_query", type=int, default=None, help="query points per task (regression 50, attributes 20)")
    parser.add_argument("--batch_size", type=int, default=32, help="tasks per outer step")
    parser.add_argument("--num_train_iterations", type=int, default=20_000, help="outer steps")
    parser.add_argument("--outer_lr", "--learning_rate", type=float, default=1e-3, help="Adam's learning rate")
    parser.add_argument("--time_limit", type=float, default=None, help="stop after this many minutes of training")
    parser.add_argument("--hidden", type=int, default=128, help="cnp, latent, alpaca: width of the networks")
    parser.add_argument("--latent_dim", type=int, default=8, help="latent: dimension of z")
    parser.add_argument("--num_samples", type=int, default=1,
                        help="latent: samples of z per ELBO estimate (1 is unbiased, and 4x cheaper per step than 8)")
    parser.add_argument("--width", type=int, default=64, help="alpaca: features per component")
    parser.add_argument("--num_components", type=int, default=None,
                        help="alpaca: Bayesian linear regressions in the mixture (sinusoid 1, sinusoid_or_line 2)")
    parser.add_argument("--num_particles", type=int, default=10, help="ensemble, svgd: P")
    parser.add_argument("--body_width", type=int, default=None,
                        help="ensemble, svgd: width of the shared meta-learned features whose linear heads are the "
                             "particles; 0: each particle is a whole MLP (default 80; attributes: 0); abml: of the "
                             "features under its Gaussian head (at least 1)")
    parser.add_argument("--num_inner_steps", type=int, default=None,
                        help="ensemble, svgd, abml: adaptation steps (default 5; attributes: 1)")
    parser.add_argument("--inner_lr", type=float, default=None,
                        help="ensemble, svgd, abml: initial inner rate, meta-learned (default 0.01; attributes: 0.3)")
    parser.add_argument("--first_order", action="store_true", help="ensemble, svgd, abml: drop second-order terms")
    parser.add_argument("--log_interval", type=int, default=50)
    parser.add_argument("--val_interval", type=int, default=1000)
    parser.add_argument("--num_val_tasks", type=int, default=200)
    parser.add_argument("--test", action="store_true", help="test the saved checkpoint instead of training")
    parser.add_argument("--num_test_tasks", type=int, default=500)
    add_run_arguments(parser, "hw3", CHECKPOINTS, "<method>_<family>")
    args = parser.parse_args(argv)
    classification = args.family == "attributes"
    if classification and args.method in ("cnp", "latent", "abml", "alpaca"):
        parser.error("--family attributes is for the particle methods (--method ensemble or svgd)")
    args.num_support = args.num_support or (1 if classification else 10)
    args.inner_lr = args.inner_lr or (0.3 if classification else 0.01)
    args.num_inner_steps = args.num_inner_steps or (1 if classification else 5)
    args.body_width = (0 if classification else 80) if args.body_width is None else args.body_width
    args.num_query = args.num_query or (20 if classification else 50)  # more targets per task: a better gradient
    if args.method == "abml" and args.body_width < 1:
        parser.error("--method abml puts its Gaussian on a linear head: --body_width must be at least 1")
    args.num_components = args.num_components or (2 if args.family == "sinusoid_or_line" else 1)
    if args.method == "alpaca" and min(args.width, args.hidden, args.num_components) < 1:
        parser.error("--method alpaca needs --width, --hidden and --num_components of at least 1")
    if not 1 <= args.min_support <= args.num_support:
        parser.error("need 1 <= --min_support <= --num_support")
    args.name = args.name or f"{args.method}_{args.family}"
    return args


def test(args: argparse.Namespace) -> dict:
    """The full evaluation of the saved checkpoint (on the CPU), printed and written to runs/hw3/<name>/test.json."""
    checkpoint, model = load_model(args.checkpoint_dir / f"{args.name}.pt")
    out_dir = args.runs_dir / args.name
    out_dir.mkdir(parents=True, exist_ok=True)
    family = checkpoint["task"]["family"]
    if family == "attributes":
        report = evaluate_classification(model, checkpoint["task"]["support_sizes"][1], args.num_test_tasks)
        plot_reliability(out_dir / "reliability.png", report["reliability"], f"{args.name}: reliability")
        print(f"{args.name}: accuracy {report['accuracy']:.3f} (optimum {report['optimum_accuracy']:.3f}), "
              f"NLL {report['nll']:.3f} (optimum {report['optimum_nll']:.3f}), ECE {report['ece']:.3f}, "
              f"mode coverage {report['mode_coverage']:.3f}")
    else:
        report = {}
        print(f"{'K':>3} {'NLL':>7} {'optimum':>8} {'MSE':>7} {'optimum':>8} {'cover90':>8} {'calib':>6}")
        for k in TEST_SUPPORT_SIZES:
            result = evaluate_regression(model, family, k, args.num_test_tasks)
            report[f"K{k}"] = result
            m, o = result["model"], result["optimum"]
            print(f"{k:>3} {m['nll']:>7.3f} {o['nll']:>8.3f} {m['mse']:>7.3f} {o['mse']:>8.3f} "
                  f"{m['coverage90']:>8.3f} {m['calibration']:>6.3f}")
        tasks = RegressionTasks(family, seed=TEST_SEED).sample(100, 0, 110)
        pool, test_points = (tasks.x_query[:, :100], tasks.y_query[:, :100]), (tasks.x_query[:, 100:], tasks.y_query[:, 100:])
        curves = {strategy: active_learning_curve(model, *pool, *test_points, 5, strategy,
                                                  torch.Generator().manual_seed(TEST_SEED)).tolist()
                  for strategy in ("entropy", "random")}
        report["active_learning_mse"] = curves
        print("active learning, test MSE after 1..5 points: " +
              "; ".join(f"{s}: " + " ".join(f"{v:.3f}" for v in c) for s, c in curves.items()))
        if family == "sinusoid_or_line" and hasattr(model, "sample_functions"):
            measured = line_or_sinusoid(model)
            report["line_or_sinusoid"] = {key: measured[key] for key in ("ambiguous_tasks", "both_kinds")}
            print(f"sampled functions hold both a line and a sinusoid on {measured['both_kinds']:.0%} of the "
                  f"{measured['ambiguous_tasks']} tasks (K=2) where the optimum is unsure which it is")
        plot_active_learning(out_dir / "active_learning.png", curves, args.name)
        plot_predictive_bands(out_dir / "predictive.png", model, family, args.name)
    (out_dir / "test.json").write_text(json.dumps(report, indent=1))
    print(f"plots and test.json in {out_dir}")
    return report


def train(args: argparse.Namespace, device: torch.device) -> None:
    config = model_config(args)
    model = build_model(args.method, config).to(device)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.outer_lr)
    tasks = TaskSource(args.family, args.min_support, args.num_support, args.num_query, seed=args.random_seed)
    log = CsvLog(args.runs_dir / args.name / "log.csv")
    print(f"{args.name}: {sum(p.numel() for p in model.parameters()):,} parameters on {device}")
    train_seconds, val_nll, optimum_nll = 0.0, float("nan"), float("nan")
    progress = trange(1, args.num_train_iterations + 1, desc=args.name, unit="step")
    for step in progress:
        start = time.perf_counter()
        loss, metrics = model.loss(tasks.sample(args.batch_size).to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        train_seconds += time.perf_counter() - start
        validating = step % args.val_interval == 0 or step == args.num_train_iterations
        if validating:
            val_nll, optimum_nll = validate(model, args.family, args.num_val_tasks, device)
        if step % args.log_interval == 0 or validating:
            log.write(step=step, seconds=round(train_seconds, 2), loss=round(loss.item(), 5),
                      **{name: round(value, 5) for name, value in metrics.items()},
                      val_nll=round(val_nll, 4) if validating else "", optimum_nll=round(optimum_nll, 4) if validating else "")
            progress.set_postfix(loss=f"{loss.item():.3f}", val_nll=f"{val_nll:.3f}", optimum=f"{optimum_nll:.3f}")
        if validating:
            rows = [row for row in log.rows if row["val_nll"] != ""]
            plot_curves(log.path.with_name("nll.png"), [row["step"] for row in rows],
                        {"validation NLL": [row["val_nll"] for row in rows],
                         "Bayes-optimal": [row["optimum_nll"] for row in rows]},
                        "outer step", "NLL per query point", f"{args.name}")
        if args.time_limit is not None and train_seconds > 60 * args.time_limit:
            print(f"{args.name}: time limit of {args.time_limit} min reached at step {step}")
            break
    path = args.checkpoint_dir / f"{args.name}.pt"
    save_run(path, args, config, model.cpu(), step, train_seconds)
    print(f"{args.name}: {train_seconds / 60:.1f} min of training; checkpoint {path}")
    return_freed_memory()  # after training, which it would slow down: the optimum allocates many mid-sized tensors
    test(args)


def main(argv=None) -> None:
    args = parse_args(argv)
    seed_everything(args.random_seed)
    if args.test:
        return_freed_memory()  # the Bayes-optimal predictor allocates many mid-sized tensors
        test(args)
    else:
        train(args, configure_device(args))


if __name__ == "__main__":
    main()
