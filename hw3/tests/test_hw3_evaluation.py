"""Public tests of hw3/metrics.py and hw3/active.py, on hand-made predictions."""
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw3_probes

ACTIVE_TASKS = dict(batch_size=5, num_support=30, num_query=40)  # as hw3_probes.active_curve samples them


def pool_indices(x_pool: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """Where each support input [B, n] lies in its task's pool [B, C]: int64 [B, n]."""
    return (support.unsqueeze(-1) - x_pool.unsqueeze(1)).abs().argmin(-1)


def stand_in_curve(seed: int, supports: list) -> torch.Tensor:
    """The test MSE of the stand-in model (the target of the nearest support input) after each support set."""
    tasks = hw3_probes.regression_tasks(seed, **ACTIVE_TASKS)
    x_pool, y_pool, x_test, y_test = (t.squeeze(-1) for t in (tasks.x_support, tasks.y_support, tasks.x_query, tasks.y_query))
    curve = []
    for support in supports:
        y_support = y_pool.gather(1, pool_indices(x_pool, support))
        nearest = (x_test.unsqueeze(-1) - support.unsqueeze(1)).abs().argmin(-1)  # [B, T]
        curve.append((y_support.gather(1, nearest) - y_test).square().mean())
    return torch.stack(curve)


@weight(1)
@number("4.1")
def test_interval_coverage_and_quantile_calibration(impl):
    """coverage counts F(y) inside the central interval; a uniform F(y) is calibrated, a constant one is not"""
    cdf = torch.tensor([0.01, 0.04, 0.3, 0.5, 0.94, 0.96, 0.99, 0.5])
    coverage = impl.call(hw3_probes.metric, "interval_coverage", cdf, 0.9).item()
    assert abs(coverage - 4 / 8) < 1e-6, f"4 of these 8 CDF values lie in [0.05, 0.95], got coverage {coverage}"
    uniform = (torch.arange(1000) + 0.5) / 1000  # the F(y) of a well-specified predictive
    ends = impl.call(hw3_probes.metric, "interval_coverage", torch.tensor([0.25, 0.75, 0.2499, 0.7501]), 0.5).item()
    assert abs(ends - 0.5) < 1e-6, f"the interval includes its ends, F(y) = 0.25 and 0.75 at level 0.5: got coverage {ends}"
    for level in (0.5, 0.8, 0.95):
        coverage = impl.call(hw3_probes.metric, "interval_coverage", uniform, level).item()
        assert abs(coverage - level) < 1e-6, f"a calibrated predictive's {level:.0%} interval should cover {level:.0%}, got {coverage}"
    error = impl.call(hw3_probes.metric, "quantile_calibration_error", uniform).item()
    assert error < 1e-3, f"evenly spread F(y) is perfectly calibrated, got an error of {error}"
    for value in (0.5, 0.25):  # F(y) exactly at a level counts as at most that level (F(y) <= p)
        constant = impl.call(hw3_probes.metric, "quantile_calibration_error", torch.full((10,), value)).item()
        expected = sum(abs((1.0 if p >= value else 0.0) - p) for p in [0.05 * k for k in range(1, 20)]) / 19
        assert abs(constant - expected) < 1e-5, \
            f"F(y) = {value} everywhere: expected an error of {expected:.4f}, got {constant:.4f}"


@weight(2)
@number("4.2")
def test_reliability_bins_and_ece(impl):
    """reliability: per-bin confidence, accuracy and count; ECE; a perfect predictor has ECE 0"""
    probabilities = torch.tensor([0.9, 0.9, 0.25, 0.55, 0.45, 1.0])
    labels = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    got = impl.call(hw3_probes.metric, "reliability", probabilities, labels, 5)
    # confidences 0.9, 0.9, 0.75, 0.55, 0.55, 1.0: bin [0.4, 0.6) holds 2 (1 right), [0.6, 0.8) 1 (right), [0.8, 1] 3 (2 right)
    torch.testing.assert_close(got["count"], torch.tensor([0.0, 0.0, 2.0, 1.0, 3.0]), msg="wrong counts per bin")
    torch.testing.assert_close(got["accuracy"][2:], torch.tensor([0.5, 1.0, 2 / 3]), msg="wrong accuracy per bin")
    torch.testing.assert_close(got["confidence"][2:], torch.tensor([0.55, 0.75, 2.8 / 3]), msg="wrong mean confidence per bin")
    expected_ece = 2 / 6 * 0.05 + 1 / 6 * 0.25 + 3 / 6 * (2.8 / 3 - 2 / 3)
    torch.testing.assert_close(got["ece"], torch.tensor(expected_ece), msg="wrong ECE")
    perfect = impl.call(hw3_probes.metric, "reliability", labels, labels)
    assert perfect["ece"].abs() < 1e-6, f"certain and always right: ECE should be 0, got {perfect['ece']}"
    assert perfect["count"].shape == (15,), "15 bins by default"
    four_bins = impl.call(hw3_probes.metric, "reliability", labels, labels, 4)
    torch.testing.assert_close(four_bins["count"], torch.tensor([0.0, 0.0, 0.0, 6.0]),
                               msg="confidence 1 belongs to the last bin, whatever the number of bins")
    tie = impl.call(hw3_probes.metric, "reliability", torch.tensor([0.5, 0.5]), torch.tensor([1.0, 1.0]), 2)
    torch.testing.assert_close(tie["accuracy"], torch.tensor([0.0, 1.0]),
                               msg="probability 0.5 predicts label 1 (>= 0.5): both predictions are right")


@weight(1)
@number("4.3")
def test_mode_coverage(impl):
    """mode_coverage: a concept is covered when some hypothesis agrees with it on enough probes"""
    concepts = torch.tensor([[[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0]]]).float().repeat_interleave(5, -1)  # [1, 3, 20]
    hypotheses = torch.stack([concepts[0, 0], concepts[0, 0], concepts[0, 2]]).unsqueeze(0).clone()
    hypotheses[0, 2, 0] = 1 - hypotheses[0, 2, 0]  # 19 of 20 right: agreement 0.95, still covered
    got = impl.call(hw3_probes.metric, "mode_coverage", hypotheses, concepts)
    torch.testing.assert_close(got, torch.tensor([2 / 3]), msg="two of the three concepts are covered")
    strict = impl.call(hw3_probes.metric, "mode_coverage", hypotheses, concepts, agreement=0.99)
    torch.testing.assert_close(strict, torch.tensor([1 / 3]), msg="with agreement 0.99 only one concept is covered")
    # Two tasks at once, each with concepts of its own: the second task's three hypotheses cover all three of its concepts.
    two_tasks = impl.call(hw3_probes.metric, "mode_coverage", torch.cat([hypotheses, 1 - concepts]), torch.cat([concepts, 1 - concepts]))
    torch.testing.assert_close(two_tasks, torch.tensor([2 / 3, 1.0]), msg="each task's hypotheses are compared with its own concepts")
    for constant in (0.0, 1.0):  # agreement means equal labels: a constant hypothesis agrees with each concept on half
        got = impl.call(hw3_probes.metric, "mode_coverage", torch.full((1, 1, 20), constant), concepts)
        torch.testing.assert_close(got, torch.tensor([0.0]), msg=f"a hypothesis that always says {constant:.0f} covers no concept")


@weight(2)
@number("4.4")
def test_active_learning_picks_the_most_uncertain_point(impl):
    """pick_max_entropy is the argmax over available candidates; the loop adds one pick per step"""
    variance = torch.tensor([[0.1, 3.0, 2.0, 0.5], [1.0, 0.2, 0.3, 0.4]])
    available = torch.tensor([[True, False, True, True], [True, True, True, True]])
    picked = impl.call(hw3_probes.pick, variance, available)
    assert picked.tolist() == [2, 0], f"expected picks [2, 0] (the highest available variance), got {picked.tolist()}"
    small = torch.tensor([[0.01, 0.05, 0.02, 0.001], [0.05, 0.04, 0.03, 0.001]])  # every entropy below zero
    picked = impl.call(hw3_probes.pick, small, torch.tensor([[True, False, True, True], [False, False, False, True]]))
    assert picked.tolist() == [2, 3], \
        f"with negative entropies, expected picks [2, 3], got {picked.tolist()}: an unavailable candidate must never win"
    got = impl.call(hw3_probes.active_curve, seed=8, strategy="entropy")
    assert got["curve"].shape == (4,), f"expected an MSE after each of 4 points, got shape {tuple(got['curve'].shape)}"
    supports = got["supports"]
    sizes = sorted({len(s[0]) for s in supports})
    assert sizes == [1, 2, 3, 4], f"the support set should grow one point at a time, got sizes {sizes}"
    assert len(supports) == 7, \
        f"4 points: 4 predictions at the test inputs and 3 at the pool (none after the last pick), got {len(supports)} calls"
    # The stand-in model's variance is the distance to the nearest support point: each pick is the farthest candidate.
    final = max(supports, key=lambda s: s.shape[1])
    for task in range(5):
        chosen = final[task]
        for n in range(1, 4):
            distance = (got["x_pool"][task].unsqueeze(1) - chosen[:n].unsqueeze(0)).abs().min(1).values
            assert torch.isclose(chosen[n], got["x_pool"][task][distance.argmax()]), \
                f"task {task}, point {n + 1}: not the candidate of highest predictive variance"


@weight(1)
@number("4.5")
def test_random_picks_are_distinct_available_candidates_drawn_by_the_generator(impl):
    """the random baseline: a new available candidate at each step, drawn with the loop's generator; the curve
    is the test MSE of the model's mean after each point"""
    got = impl.call(hw3_probes.active_curve, seed=11, strategy="random", num_points=20)
    supports = got["measured_supports"]
    assert [s.shape[1] for s in supports] == list(range(1, 21)), \
        f"expected the test MSE measured with 1, 2, ..., 20 support points, got sizes {[s.shape[1] for s in supports]}"
    final = supports[-1]
    for size, support in enumerate(supports[:-1], start=1):
        assert torch.equal(support, final[:, :size]), "each step should add one point to the support set and keep the others"
    picks = pool_indices(got["x_pool"], final)
    for task, row in enumerate(picks.tolist()):
        assert len(set(row)) == 20, f"task {task}: a candidate was picked twice; pick only available candidates"
    assert len({tuple(row[1:]) for row in picks.tolist()}) > 1, "every task got the same picks: draw them at random"
    again = impl.call(hw3_probes.active_curve, seed=11, strategy="random", num_points=20)["measured_supports"][-1]
    assert torch.equal(again, final), "the same generator seed should give the same picks: draw with generator"
    other = impl.call(hw3_probes.active_curve, seed=11, strategy="random", num_points=20, pick_seed=12)
    assert not torch.equal(other["measured_supports"][-1][:, 1:], final[:, 1:]), \
        "another generator seed gave the same picks: draw them with generator"
    entropy = impl.call(hw3_probes.active_curve, seed=11, strategy="entropy", num_points=20)["measured_supports"][-1]
    assert not torch.equal(entropy, final), "the random strategy picked what the entropy strategy picks"
    torch.testing.assert_close(got["curve"], stand_in_curve(11, supports), rtol=1e-5, atol=1e-7,
                               msg="the curve should hold the test MSE of the model's predictive mean after each point, "
                                   "averaged over tasks and test points")
