"""Quality of your trained checkpoints, measured on tasks that the tests sample themselves.

Train with ``python -m hw3.main`` (see the handout); it writes the checkpoints
to ``hw3/checkpoints/``. Your model sees the support sets and the query inputs;
the query targets stay on this side, where the NLL, coverage, calibration and
accuracy are computed (in float64, from checked numbers). The tasks come from the grading's
secret seed; on the grader your weights run in the reference's code.
"""
import math
from pathlib import Path

import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw3_probes
from common.checkpoints import KEYS as CHECKPOINT_KEYS
from harness.plugin import checked_config, load_submitted_checkpoint, received
from data.attributes import AmbiguousAttributes, all_attribute_vectors, concept_labels, features
from data.regression import RegressionTasks

NUM_TASKS, NUM_QUERY, NUM_SUPPORT = 300, 50, 5
# Thresholds: the reference's figures on 5 grader seeds (docs/benchmarks/hw3.md), with a margin.
# active_ratio, after 2 and after 3 picked points, from 200 grader seeds on 300 tasks: the reference at most 0.51
# and 0.70; a CNP whose variance says nothing (constant) at least 0.79 and 0.72.
THRESHOLDS = {"cnp_nll": 0.65, "coverage": (0.85, 0.95), "calibration": 0.05, "latent_nll": 0.75,
              "active_ratio": {2: 0.65, 3: 0.85}, "svgd_nll": 0.40, "svgd_ece": 0.06, "svgd_modes": 0.85}
TASKS_PER_CHUNK = 25
TRAIN_HINT = ("train with the handout's command for this method (its time limit or steps), look at the predictive "
              "plots in runs/hw3/, and check the loss against the handout's formulas")


CONFIGS = {"cnp": {"hidden": (int, 1, 512)}, "latent": {"hidden": (int, 1, 512), "latent_dim": (int, 1, 64)},
           "svgd": {"input_dim": {8}, "likelihood": {"bernoulli"}, "num_particles": (int, 1, 50),
                    "num_inner_steps": (int, 1, 10), "inner_lr": (float, 0.0, 10.0), "first_order": {True, False},
                    "body_width": (int, 0, 256)},
           "abml": {"num_inner_steps": (int, 1, 10), "inner_lr": (float, 0.0, 10.0), "first_order": {True, False},
                    "body_width": (int, 1, 256)},
           "alpaca": {"width": (int, 1, 256), "hidden": (int, 1, 512), "num_components": (int, 1, 4)}}


def submitted_checkpoint(impl_root: Path, name: str, family: str, method: str) -> dict:
    checkpoint = load_submitted_checkpoint(impl_root, "hw3", name, list(CHECKPOINT_KEYS))
    trained_on = checkpoint["task"].get("family") if isinstance(checkpoint["task"], dict) else None
    assert trained_on == family, f"{name} was trained on {trained_on!r} tasks, not {family!r}"
    assert checkpoint["kind"] == method, f"{name} holds a {checkpoint['kind']!r} model, not {method!r}"
    checked_config(checkpoint["config"], CONFIGS[method], name)
    return checkpoint


def mixture_predictive(components: dict, y: torch.Tensor) -> dict:
    """NLL terms, CDF and moments of the mixture that the submitted model returned (computed here): equally
    weighted, or weighted by the returned log_weights [S, B], normalised here."""
    assert isinstance(components, dict) and {"means", "variances"} <= set(components), "expected means and variances"
    means = received(components["means"], name="the predictive means")
    variances = received(components["variances"], name="the predictive variances")
    assert means.ndim == 3 and means.shape[1:] == y.shape and variances.shape == means.shape, \
        f"expected components [S, {y.shape[0]}, {y.shape[1]}], got means {tuple(means.shape)}, variances {tuple(variances.shape)}"
    assert (variances > 0).all(), "the predictive has non-positive variances"
    if components.get("log_weights") is None:
        log_weights = torch.full(means.shape[:2], -math.log(len(means)), dtype=torch.float64)
    else:
        log_weights = received(components["log_weights"], name="the mixture's log weights")
        assert log_weights.shape == means.shape[:2], \
            f"expected log weights [S, B] = {list(means.shape[:2])}, got {tuple(log_weights.shape)}"
        log_weights = torch.log_softmax(log_weights.double(), 0)
    y = y.double()
    # A few tasks at a time: each temporary of the whole mixture ([S, B, M] in float64) takes MB that the
    # grading's memory budget would count several times over.
    parts = [mixture_moments(means[:, chunk], variances[:, chunk], log_weights[:, chunk], y[chunk])
             for chunk in torch.arange(len(y)).split(TASKS_PER_CHUNK)]
    return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}


def mixture_moments(means: torch.Tensor, variances: torch.Tensor, log_weights: torch.Tensor, y: torch.Tensor) -> dict:
    """log p(y), CDF at y, mean and variance [B, M] of the mixture of S Gaussians: means, variances [S, B, M],
    normalised log weights [S, B], targets y [B, M]."""
    weights = log_weights.exp().unsqueeze(-1)
    log_normal = -0.5 * ((y - means).square() / variances + variances.log() + math.log(2 * math.pi))
    mean = (weights * means).sum(0)
    return {"log_prob": (log_normal + log_weights.unsqueeze(-1)).logsumexp(0),
            "cdf": (weights * torch.special.ndtr((y - means) / variances.sqrt())).sum(0),
            "mean": mean, "variance": (weights * (variances + means.square())).sum(0) - mean.square()}


def regression_quality(evaluator, checkpoint: dict, seed: int) -> dict:
    tasks = RegressionTasks("sinusoid", seed=seed).sample(NUM_TASKS, NUM_SUPPORT, NUM_QUERY)
    components = evaluator.call(hw3_probes.checkpoint_predictive, checkpoint, tasks.x_support, tasks.y_support,
                           tasks.x_query, timeout=120)
    predictive = mixture_predictive(components, tasks.y_query.squeeze(-1))
    cdf = predictive["cdf"]
    levels = torch.arange(1, 20) * 0.05
    return {"nll": -predictive["log_prob"].mean().item(),
            "coverage": ((cdf >= 0.05) & (cdf <= 0.95)).double().mean().item(),
            "calibration": ((cdf.reshape(-1, 1) <= levels).double().mean(0) - levels).abs().mean().item()}


@weight(3)
@number("5.1")
def test_cnp_nll_on_sinusoids(evaluator, impl_root, grader_seed):
    """cnp_sinusoid.pt: NLL per query point at K=5"""
    quality = regression_quality(evaluator, submitted_checkpoint(impl_root, "cnp_sinusoid.pt", "sinusoid", "cnp"), grader_seed)
    print(f"NLL {quality['nll']:.3f} on {NUM_TASKS} tasks, K={NUM_SUPPORT} (threshold {THRESHOLDS['cnp_nll']}; "
          f"the Bayes-optimal predictor: about 0.41)")
    assert quality["nll"] <= THRESHOLDS["cnp_nll"], f"NLL {quality['nll']:.3f} is above {THRESHOLDS['cnp_nll']}: {TRAIN_HINT}"


@weight(2)
@number("5.2")
def test_cnp_is_calibrated(evaluator, impl_root, grader_seed):
    """cnp_sinusoid.pt: 90% interval coverage and quantile calibration error at K=5"""
    quality = regression_quality(evaluator, submitted_checkpoint(impl_root, "cnp_sinusoid.pt", "sinusoid", "cnp"), grader_seed)
    low, high = THRESHOLDS["coverage"]
    print(f"90% coverage {quality['coverage']:.3f} (in [{low}, {high}]), calibration error {quality['calibration']:.4f} "
          f"(at most {THRESHOLDS['calibration']})")
    assert low <= quality["coverage"] <= high, f"90% intervals hold {quality['coverage']:.3f} of the targets"
    assert quality["calibration"] <= THRESHOLDS["calibration"], f"calibration error {quality['calibration']:.4f} is too high"


@weight(2)
@number("5.3")
def test_active_learning_beats_random_picks(evaluator, impl_root, grader_seed):
    """cnp_sinusoid.pt: MSE after 2 and 3 points picked by maximum predictive entropy, against random picks"""
    checkpoint = submitted_checkpoint(impl_root, "cnp_sinusoid.pt", "sinusoid", "cnp")
    tasks = RegressionTasks("sinusoid", seed=grader_seed + 1).sample(NUM_TASKS, 0, 150)
    x_pool, y_pool, x_test, y_test = (tasks.x_query[:, :100], tasks.y_query[:, :100], tasks.x_query[:, 100:],
                                      tasks.y_query[:, 100:])
    generator = torch.Generator().manual_seed(grader_seed + 2)
    first = torch.randint(100, (NUM_TASKS,), generator=generator)
    rows = torch.arange(NUM_TASKS)
    curves = {}
    for strategy in ("entropy", "random"):  # the loop runs here; the model only predicts
        chosen, curve = [first], []
        for step in range(3):
            index = torch.stack(chosen, 1)
            x_support, y_support = x_pool[rows.unsqueeze(1), index], y_pool[rows.unsqueeze(1), index]
            x_all = torch.cat([x_pool, x_test], 1)
            moments = mixture_predictive(evaluator.call(hw3_probes.checkpoint_predictive, checkpoint, x_support, y_support, x_all),
                                         torch.cat([y_pool, y_test], 1).squeeze(-1))
            curve.append((moments["mean"][:, 100:] - y_test.squeeze(-1)).square().mean().item())
            taken = torch.zeros(NUM_TASKS, 100, dtype=torch.bool)
            taken[rows.unsqueeze(1), index] = True
            if strategy == "entropy":
                chosen.append(moments["variance"][:, :100].masked_fill(taken, -1).argmax(-1))
            else:
                chosen.append(torch.rand(NUM_TASKS, 100, generator=generator).masked_fill(taken, -1).argmax(-1))
        curves[strategy] = curve
    print("test MSE after 1, 2, 3 points: " + "; ".join(f"{s} " + ", ".join(f"{v:.3f}" for v in c) for s, c in curves.items()))
    for points, most in THRESHOLDS["active_ratio"].items():
        ratio = curves["entropy"][points - 1] / curves["random"][points - 1]
        assert ratio <= most, f"after {points} points the entropy picks' MSE is {ratio:.2f} of the random picks' (at most {most})"


@weight(2)
@number("5.4")
def test_latent_model_nll_on_sinusoids(evaluator, impl_root, grader_seed):
    """latent_sinusoid.pt: NLL per query point at K=5"""
    quality = regression_quality(evaluator, submitted_checkpoint(impl_root, "latent_sinusoid.pt", "sinusoid", "latent"), grader_seed)
    print(f"NLL {quality['nll']:.3f} (threshold {THRESHOLDS['latent_nll']}), 90% coverage {quality['coverage']:.3f}")
    assert quality["nll"] <= THRESHOLDS["latent_nll"], f"NLL {quality['nll']:.3f} is above {THRESHOLDS['latent_nll']}: {TRAIN_HINT}"


@weight(2)
@number("5.5")
def test_svgd_on_ambiguous_attributes(evaluator, impl_root, grader_seed):
    """svgd_attributes.pt: NLL, expected calibration error and mode coverage on ambiguous 1-shot tasks"""
    checkpoint = submitted_checkpoint(impl_root, "svgd_attributes.pt", "attributes", "svgd")
    tasks = AmbiguousAttributes(seed=grader_seed + 3).sample(NUM_TASKS, 1, 20)
    probes = all_attribute_vectors().expand(NUM_TASKS, -1, -1)  # every noise-free example
    out = evaluator.call(hw3_probes.checkpoint_predictive, checkpoint, tasks.x_support, tasks.y_support, tasks.x_query,
                    features(probes), timeout=120)
    logits = received(out["logits"], name="the particles' logits", bound=1e4)
    labels = tasks.y_query.squeeze(-1).double()
    assert logits.ndim == 3 and logits.shape[0] == NUM_TASKS and logits.shape[2] == 20, \
        f"expected particle logits [{NUM_TASKS}, P, 20], got {tuple(logits.shape)}"
    log_likelihood = -torch.nn.functional.binary_cross_entropy_with_logits(
        logits, labels.unsqueeze(1).expand_as(logits), reduction="none")
    nll = -(log_likelihood.logsumexp(1) - math.log(logits.shape[1])).mean().item()
    probability = torch.sigmoid(logits).mean(1)
    correct = ((probability >= 0.5).double() == labels).double()
    confidence = torch.maximum(probability, 1 - probability)
    bins = (confidence * 15).long().clamp(max=14)
    ece = sum((bins == b).double().mean() * (correct[bins == b].mean() - confidence[bins == b].mean()).abs()
              for b in range(15) if (bins == b).any()).item()
    hypotheses = (received(out["probe_logits"], name="the probe logits", bound=1e4) > 0).float()
    concepts = concept_labels(probes, tasks.consistent).transpose(1, 2)  # [B, 3, 256]
    agreement = (hypotheses.unsqueeze(2) == concepts.unsqueeze(1)).sum(-1).double() / concepts.shape[-1]  # [B, P, 3]
    coverage = (agreement >= 0.95).any(1).double().mean().item()
    print(f"NLL {nll:.3f} (at most {THRESHOLDS['svgd_nll']}; the optimum is about 0.28), ECE {ece:.3f} "
          f"(at most {THRESHOLDS['svgd_ece']}), mode coverage {coverage:.3f} (at least {THRESHOLDS['svgd_modes']}), "
          f"accuracy {correct.mean().item():.3f} (not graded)")
    assert nll <= THRESHOLDS["svgd_nll"], f"NLL {nll:.3f} is above {THRESHOLDS['svgd_nll']}: {TRAIN_HINT}"
    assert ece <= THRESHOLDS["svgd_ece"], f"ECE {ece:.3f} is above {THRESHOLDS['svgd_ece']}"
    assert coverage >= THRESHOLDS["svgd_modes"], \
        f"the adapted particles represent {coverage:.3f} of the consistent concepts, fewer than {THRESHOLDS['svgd_modes']}"
