"""Wrong solutions lose the points they should: each mutant of the reference fails its tests.

These grade real submissions on real Omniglot (``python -m data.omniglot`` first).
"""
import shutil

import pytest

from autograder.grading import grade
from autograder.kit import Kit

KIT = Kit()

# (homework, what is wrong) -> (file, reference text, mutant text, tests that must fail)
MUTANTS = {
    ("hw1", "query row in class order"): (
        "episodes.py", "    images[:, -1] = images[tasks, -1, order]\n    labels[:, -1] = labels[tasks, -1, order]\n", "",
        {"1.4"}),
    ("hw1", "query labels shown to the model"): (
        "mann.py", "visible = torch.cat([labels[:, :-1], torch.zeros_like(labels[:, -1:])], dim=1)", "visible = labels",
        {"2.2", "2.4", "2.5"}),
    ("hw1", "loss over every row"): (
        "mann.py", "query_logits = logits[:, -1].reshape(-1, num_classes)\n    query_targets = labels[:, -1]",
        "query_logits = logits.reshape(-1, num_classes)\n    query_targets = labels", {"2.3", "2.7"}),
    ("hw1", "loss summed, not averaged"): (
        "mann.py", "return F.cross_entropy(query_logits, query_targets)",
        "return F.cross_entropy(query_logits, query_targets, reduction='sum')", {"2.3", "2.6", "2.7"}),
    ("hw1", "characters may repeat in a task"): (
        "episodes.py", "argsort(dim=1)[:, :num_classes]", "argsort(dim=1)[:, :1].repeat(1, num_classes)", {"1.3"}),
    ("hw1", "sequence in class-major order"): (
        "mann.py", "sequence = torch.cat([images, visible], dim=-1).reshape(",
        "sequence = torch.cat([images, visible], dim=-1).transpose(1, 2).reshape(", {"2.1", "2.5"}),
    ("hw2", "every inner step starts from the meta-parameters"): (
        "maml.py", "for (name, tensor), gradient in zip(parameters.items(), gradients)}",
        "for (name, tensor), gradient in zip(self.network.named_parameters(), gradients)}", {"1.2", "1.9"}),
    ("hw2", "support and query embedded apart"): (
        "protonet.py", "features = self.network(torch.cat([support, batch.x_query[task]]))\n"
        "            support_features, query_features = features[:len(support)], features[len(support):]",
        "support_features, query_features = self.network(support), self.network(batch.x_query[task])", {"2.3", "2.6"}),
    ("hw2", "inner loop always first order"): (
        "maml.py", "create_graph=self.training and not self.first_order", "create_graph=False", {"1.5", "1.10"}),
    ("hw2", "inner step ignores the inner learning rates"): (
        "maml.py", "tensor - self.inner_lrs[name] * gradient", "tensor - 0.4 * gradient", {"1.2", "1.6", "1.10"}),
    ("hw2", "distances not squared"): (
        "protonet.py", ".square().sum(-1)", ".square().sum(-1).sqrt()", {"2.1", "2.5", "2.6"}),
    ("hw2", "prototypes summed, not averaged"): (
        "protonet.py", " / one_hot.sum(0).unsqueeze(1)", "", {"2.1", "2.5", "2.6"}),
    ("hw2", "ANIL's support features cut from the meta-gradient"): (
        "anil.py", "features = self.network.features(images)", "features = self.network.features(images).detach()",
        {"4.2", "4.4"}),
    ("hw2", "ANIL's head steps ignore the inner learning rates"): (
        "anil.py", "tensor - self.inner_lrs[name] * gradient", "tensor - 0.4 * gradient", {"4.1", "4.4"}),
    ("hw2", "ridge head without its regulariser"): (
        "ridge.py", "gram + regularizer * identity", "gram + 1e-3 * regularizer.detach() * identity", {"5.1", "5.2", "5.4"}),
    ("hw2", "ProtoNet's loss bypasses the head that a subclass swaps"): (
        "protonet.py", "logits = self.head(support_features, support_labels, query_features, num_way)",
        "logits = prototype_logits(support_features, support_labels, query_features, num_way)", {"5.2", "5.4"}),
    ("hw2", "Reptile's fitted weights left in the graph"): (
        "reptile.py", "(theta - fitted[name].detach())", "(theta - fitted[name])", {"6.1", "6.4"}),
    ("hw2", "Reptile fits the support images only"): (
        "reptile.py", "images = torch.cat([batch.x_support[task], batch.x_query[task]])\n"
        "            labels = torch.cat([batch.y_support[task], batch.y_query[task]])",
        "images, labels = batch.x_support[task], batch.y_support[task]", {"6.1", "6.2", "6.4"}),
    ("hw2", "CAVIA's inner step always first order"): (
        "cavia.py", "create_graph=self.training and not self.first_order)", "create_graph=False)", {"7.2", "7.4"}),
    ("hw2", "pre-training classifies by the episode's labels, not the split's classes"): (
        "finetune.py", "support_classes = batch.classes.gather(1, batch.y_support).flatten()\n"
        "        query_classes = batch.classes.gather(1, batch.y_query).flatten()",
        "support_classes, query_classes = batch.y_support.flatten(), batch.y_query.flatten()", {"8.2", "8.4"}),
    ("hw2", "the head is fitted without enabling gradients (predict runs under no_grad)"): (
        "finetune.py", "with torch.enable_grad():", "if True:", {"8.1", "8.4"}),
    ("hw2", "the fine-tuned head starts at random"): (
        "finetune.py", "weight = support_features.new_zeros(num_way, support_features.shape[1], requires_grad=True)",
        "weight = torch.randn(num_way, support_features.shape[1], requires_grad=True)", {"8.1", "8.4"}),
    ("hw2", "MAML++ steps every time at the first step's rates"): (
        "mamlpp.py", "self.inner_lrs[name][step]", "self.inner_lrs[name][0]", {"9.1", "9.2", "9.4"}),
    ("hw2", "MAML++ uses step 0's batch norm at every step"): (
        "mamlpp.py", "**self.norms_at(step + 1)}", "**self.norms_at(0)}", {"9.1", "9.2", "9.4"}),
    ("hw2", "MAML++ counts the last step's query loss only"): (
        "mamlpp.py", "zip(trajectory[1:], weights)", "zip(trajectory[-1:], [1.0])", {"9.2", "9.4"}),
    ("hw3", "KL without its log-variance term"): (
        "distributions.py", "(log_variance.exp() + mean.square() - 1 - log_variance)", "(log_variance.exp() + mean.square() - 1)",
        {"1.2", "2.3", "6.1", "6.2"}),
    ("hw3", "SVGD without the repulsive term"): (
        "particles.py", "return (attraction + repulsion) / num_particles", "return attraction / num_particles", {"3.1", "6.3"}),
    ("hw3", "SVGD mixes over particles point by point"): (
        "particles.py", "-(mixture_log_likelihood(query_log_likelihood.sum(-1), dim=1) / batch.x_query.shape[1]).mean()",
        "-mixture_log_likelihood(query_log_likelihood, dim=1).mean()", {"3.3", "6.3"}),
    ("hw3", "ensemble trained on its members' own losses alone"): (
        "particles.py", "loss = mixture if self.svgd else mixture - query_log_likelihood.mean()",
        "loss = mixture if self.svgd else -query_log_likelihood.mean()", {"3.3", "6.3"}),
    ("hw3", "ensemble trained on the mixture alone"): (
        "particles.py", "loss = mixture if self.svgd else mixture - query_log_likelihood.mean()", "loss = mixture",
        {"3.3", "6.3"}),
    ("hw3", "ECE weighs every bin alike"): (
        "metrics.py", "ece = (count / count.sum() * (accuracy - mean_confidence).abs()).sum()",
        "ece = (accuracy - mean_confidence).abs()[count > 0].mean()", {"4.2", "6.4"}),
    ("hw3", "random picks ignore the available mask"): (
        "active.py", "picked = torch.rand(batch, num_candidates, generator=generator).masked_fill(~available, -1).argmax(-1)",
        "picked = torch.randint(num_candidates, (batch,), generator=generator)", {"4.5"}),
    ("hw3", "unavailable candidates masked by a product"): (
        "active.py", "entropy = gaussian_entropy(variance).masked_fill(~available, -math.inf)",
        "entropy = gaussian_entropy(variance) * available", {"4.4"}),
    ("hw3", "inner step at the raw rate, not step_size"): (
        "particles.py", "particles = particles + rate * direction", "particles = particles + self.log_inner_lr.exp() * direction",
        {"3.2", "6.3"}),
    ("hw3", "particles ignore first_order"): (
        "particles.py", "create_graph=self.training and not self.first_order)", "create_graph=self.training)", {"3.3", "6.3"}),
    ("hw3", "SVGD bandwidth differentiated"): (
        "particles.py", "median = squared.detach()[:, distinct]", "median = squared[:, distinct]", {"3.1", "6.3"}),
    ("hw3", "CNP sums the support embeddings"): (
        "cnp.py", ".mean(1)  # [B, hidden]", ".sum(1)  # [B, hidden]", {"2.1", "6.2"}),
    ("hw3", "interval coverage at a fixed level"): (
        "metrics.py", "tail = (1 - level) / 2", "tail = 0.05", {"4.1", "6.4"}),
    ("hw3", "ELBO samples not reparameterized"): (
        "latent.py", "z = reparameterize(mean, log_variance, num_samples, generator)",
        "z = reparameterize(mean, log_variance, num_samples, generator).detach()", {"2.3", "6.2"}),
    ("hw3", "ABML's KL forgets the prior's variance in the mean's term"): (
        "abml.py", "gap = (mean - prior_mean).square() / (2 * prior_log_sd).exp()", "gap = (mean - prior_mean).square()",
        {"7.1", "7.2", "7.3", "7.5"}),
    ("hw3", "ABML adapts the mean alone"): (
        "abml.py", "log_sd = log_sd + log_sd_rate * log_sd_gradient", "log_sd = log_sd", {"7.2", "7.3", "7.5"}),
    ("hw3", "ABML's inner loop climbs the likelihood without the KL"): (
        "abml.py", "elbo = expected - diagonal_gaussian_kl(mean, log_sd, self.prior_mean, self.prior_log_sd)",
        "elbo = expected", {"7.2", "7.3", "7.5"}),
    ("hw3", "ABML's expected log-likelihood ignores the sds"): (
        "abml.py", "return gaussian_log_likelihood(y, predicted, noise_variance) - spread.squeeze(-1) / (2 * noise_variance)",
        "return gaussian_log_likelihood(y, predicted, noise_variance)", {"7.1", "7.2", "7.3", "7.5"}),
    ("hw3", "ABML ignores first_order"): (
        "abml.py", "create_graph=self.training and not self.first_order)", "create_graph=self.training)", {"7.3", "7.5"}),
    ("hw3", "ABML's meta-loss leaves q's spread out of the predictive"): (
        "abml.py", "variances = self.noise_variance() + (features.square() @ (2 * log_sd).exp().unsqueeze(-1)).squeeze(-1)",
        "variances = self.noise_variance().expand_as(means)", {"7.3", "7.5"}),
    ("hw3", "ABML's meta-loss is the expected query log-likelihood of the ELBO"): (
        "abml.py", "loss = -gaussian_log_likelihood(batch.y_query.squeeze(-1), *self.predictive(mean, log_sd, batch.x_query)).mean()",
        "loss = -expected_log_likelihood(mean, log_sd, self.features(batch.x_query), batch.y_query.squeeze(-1), "
        "self.noise_variance()).mean()", {"7.3", "7.5"}),
    ("hw3", "ALPaCA's posterior mean forgets the prior's mean"): (
        "alpaca.py", "information = prior @ self.prior_mean.unsqueeze(-1) + phi.transpose(-1, -2)",
        "information = phi.transpose(-1, -2)", {"8.1", "8.2", "8.3", "8.5"}),
    ("hw3", "ALPaCA's predictive variance leaves out the noise"): (
        "alpaca.py", "(self.noise_variance() + spread).transpose(0, 1)", "spread.transpose(0, 1)", {"8.2", "8.3", "8.5"}),
    ("hw3", "ALPaCA's predictive variance uses the precision, not its inverse"): (
        "alpaca.py", "torch.cholesky_solve(phi.transpose(-1, -2), cholesky).transpose(-1, -2)",
        "(cholesky @ cholesky.transpose(-1, -2) @ phi.transpose(-1, -2)).transpose(-1, -2)", {"8.2", "8.3", "8.5"}),
    ("hw3", "ALPaCA's evidence forgets the prior's determinant"): (
        "alpaca.py", "\n                       - prior_cholesky.diagonal(dim1=-2, dim2=-1).log().sum(-1))", ")",
        {"8.1", "8.2", "8.3", "8.5"}),
    ("hw3", "ALPaCA's weights ignore the evidence"): (
        "alpaca.py", "\n                                        + self.log_evidence(x_support, y_support), -1)",
        "\n                                        + 0 * self.log_evidence(x_support, y_support), -1)", {"8.2", "8.3", "8.5"}),
    ("hw3", "ALPaCA's loss averages the components' log densities"): (
        "alpaca.py", "loss = -torch.logsumexp(log_likelihood + log_weights.unsqueeze(-1), 0).mean()",
        "loss = -(log_likelihood * log_weights.exp().unsqueeze(-1)).sum(0).mean()", {"8.3", "8.5"}),
    ("hw3", "active learning picks the most certain point"): (
        "active.py", "return entropy.argmax(-1)", "return entropy.masked_fill(~available, math.inf).argmin(-1)", {"4.4", "6.4"}),
}


@pytest.mark.parametrize(("hw", "mutant"), sorted(MUTANTS))
def test_mutant_loses_the_points_of_the_tests_that_target_it(hw, mutant, tmp_path):
    filename, original, replacement, must_fail = MUTANTS[hw, mutant]
    submission = tmp_path / hw
    shutil.copytree(KIT.solution_dir(hw), submission, ignore=shutil.ignore_patterns("checkpoints", "__pycache__"))
    source = (submission / filename).read_text()
    assert original in source, f"the reference changed: update the mutant {mutant!r}"
    (submission / filename).write_text(source.replace(original, replacement))
    selection = " or ".join(f"test_{name}" for name in _test_names(hw, must_fail))
    results = grade(KIT, hw, tmp_path, extra_pytest_args=["-k", selection])
    scores = {test["number"]: test["score"] for test in results["tests"]}
    assert set(scores) == must_fail, f"expected to run {must_fail}, ran {set(scores)}: {results['output']}"
    assert all(score == 0 for score in scores.values()), f"{mutant}: {scores}"


def _test_names(hw: str, numbers: set[str]) -> list[str]:
    """Test function names (without test_) of the homework's tests with these numbers."""
    import ast

    names = []
    for folder in (KIT.public_tests(hw), KIT.hidden_tests(hw)):
        for path in folder.glob("test_*.py"):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.FunctionDef):
                    for decorator in node.decorator_list:
                        if (isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "number"
                                and decorator.args[0].value in numbers):
                            names.append(node.name.removeprefix("test_"))
    return names
