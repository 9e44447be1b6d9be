"""Probes of hw3: they run in the worker, call your code on seeded inputs and return tensors."""
import math

import torch


def with_gradients(function, inputs: dict, **options) -> dict:
    """function(**inputs, **options), and the gradients of a generic weighted sum of it with respect to each input."""
    inputs = {name: tensor.clone().requires_grad_(True) for name, tensor in inputs.items()}
    value = function(**inputs, **options)
    weights = torch.linspace(-1, 2, value.numel()).view(value.shape)  # a generic direction, not just the sum
    gradients = torch.autograd.grad((value * weights).sum(), list(inputs.values()), allow_unused=True)
    return {"value": value.detach(), **{f"d_{name}": g for name, g in zip(inputs, gradients)}}


def distribution(name: str, inputs: dict, **options) -> dict:
    """One function of hw3.distributions, with its gradients."""
    import hw3.distributions as distributions

    return with_gradients(getattr(distributions, name), inputs, **options)


def reparameterized(mean: torch.Tensor, log_variance: torch.Tensor, num_samples: int, seed: int) -> dict:
    """Samples drawn with a seeded generator, and the gradient of their sum with respect to mean and log_variance."""
    from hw3.distributions import reparameterize

    mean, log_variance = mean.clone().requires_grad_(True), log_variance.clone().requires_grad_(True)
    samples = reparameterize(mean, log_variance, num_samples, torch.Generator().manual_seed(seed))
    d_mean, d_log_variance = torch.autograd.grad(samples.sum(), [mean, log_variance])
    again = reparameterize(mean, log_variance, num_samples, torch.Generator().manual_seed(seed))
    return {"samples": samples.detach(), "again": again.detach(), "d_mean": d_mean, "d_log_variance": d_log_variance}


def regression_tasks(seed: int, batch_size: int = 3, num_support: int = 4, num_query: int = 6, family: str = "sinusoid"):
    from data.regression import RegressionTasks

    return RegressionTasks(family, seed=seed).sample(batch_size, num_support, num_query)


def cnp_outputs(seed: int, order: list | None = None) -> dict:
    """A seeded CNP on seeded tasks: its predictive, its loss, and the loss's gradients."""
    from data.tasks import TaskBatch
    from hw3.cnp import ConditionalNeuralProcess

    torch.manual_seed(seed)
    model = ConditionalNeuralProcess(hidden=32)
    tasks = regression_tasks(seed)
    x_support, y_support = tasks.x_support, tasks.y_support
    if order is not None:
        x_support, y_support = x_support[:, order], y_support[:, order]
    mean, variance = model(x_support, y_support, tasks.x_query)
    loss, _ = model.loss(TaskBatch(x_support, y_support, tasks.x_query, tasks.y_query))
    loss.backward()
    return {"mean": mean.detach(), "variance": variance.detach(), "loss": loss.detach(),
            "gradients": {name: p.grad for name, p in model.named_parameters()}}


def latent_elbo(seed: int, num_samples: int = 5) -> dict:
    """A seeded latent variable model: its ELBO with seeded samples, the pieces to check it, and its gradients."""
    from hw3.latent import LatentVariableModel

    torch.manual_seed(seed)
    model = LatentVariableModel(latent_dim=3, hidden=32)
    tasks = regression_tasks(seed)
    elbo = model.elbo(tasks.x_support, tasks.y_support, tasks.x_query, tasks.y_query, num_samples=num_samples,
                      generator=torch.Generator().manual_seed(seed))
    elbo.backward()
    mean, log_variance = model.posterior(tasks.x_support, tasks.y_support)
    epsilon = torch.randn((num_samples, *mean.shape), generator=torch.Generator().manual_seed(seed))
    y_mean, y_variance = model.decode(mean + (0.5 * log_variance).exp() * epsilon, tasks.x_query)
    return {"elbo": elbo.detach(), "posterior_mean": mean.detach(), "posterior_log_variance": log_variance.detach(),
            "y_mean": y_mean.detach(), "y_variance": y_variance.detach(), "y_query": tasks.y_query,
            "gradients": {name: p.grad for name, p in model.named_parameters()}}


def elbo_by_formula(seed: int, num_samples: int = 5) -> dict:
    """The ELBO of the seeded model of ``latent_elbo``, written out here from the provided posterior and decoder,
    with pathwise samples mean + sd * epsilon, and the gradient of every parameter."""
    from hw3.latent import LatentVariableModel

    torch.manual_seed(seed)
    model = LatentVariableModel(latent_dim=3, hidden=32)
    tasks = regression_tasks(seed)
    x_query, y_query = tasks.x_query, tasks.y_query
    mean, log_variance = model.posterior(tasks.x_support, tasks.y_support)
    epsilon = torch.randn((num_samples, *mean.shape), generator=torch.Generator().manual_seed(seed))
    y_mean, y_variance = model.decode(mean + (0.5 * log_variance).exp() * epsilon, x_query)
    log_density = -0.5 * ((y_query.squeeze(-1) - y_mean).square() / y_variance + y_variance.log() + math.log(2 * math.pi))
    kl = 0.5 * (log_variance.exp() + mean.square() - 1 - log_variance).sum(-1)
    elbo = ((log_density.sum(-1).mean(0) - kl) / x_query.shape[1]).mean()
    elbo.backward()
    return {"elbo": elbo.detach(), "gradients": {name: p.grad for name, p in model.named_parameters()}}


def svgd(particles: torch.Tensor, scores: torch.Tensor) -> dict:
    """svgd_direction, and its gradient with respect to the scores and particles in a generic direction."""
    from hw3.particles import svgd_direction

    return with_gradients(svgd_direction, {"particles": particles, "scores": scores})


def seeded_particle_model(seed: int, svgd: bool = True, **config):
    """A seeded ParticleMAML with SVGD steps or without (an ensemble), built as a checkpoint's model is."""
    from hw3.models import build_model

    torch.manual_seed(seed)
    return build_model("svgd" if svgd else "ensemble", config)


def particle_adapt(seed: int, num_inner_steps: int = 1, svgd_steps: bool = False, train: bool = True) -> dict:
    """Adapted particles of a seeded model (4 particles, hidden 8) on seeded sinusoid tasks."""
    model = seeded_particle_model(seed, num_particles=4, hidden=8, num_inner_steps=num_inner_steps, svgd=svgd_steps,
                                  inner_lr=0.01)
    before = model.initial.detach().clone()
    tasks = regression_tasks(seed)
    particles = model.train(train).adapt(tasks.x_support, tasks.y_support)
    return {"particles": particles.detach(), "keeps_graph": particles.requires_grad,
            "initial_unchanged": torch.equal(before, model.initial.detach())}


def one_ensemble_step(seed: int) -> torch.Tensor:
    """What one inner step of an ensemble must give, computed here from log_likelihood alone: [B, P, D]."""
    model = seeded_particle_model(seed, num_particles=4, hidden=8, svgd=False, inner_lr=0.01)
    tasks = regression_tasks(seed)
    particles = model.initial.detach().unsqueeze(0).expand(len(tasks), -1, -1).clone().requires_grad_(True)
    score, = torch.autograd.grad(model.log_likelihood(particles, tasks.x_support, tasks.y_support).sum(), particles)
    rate = 0.01 * model.log_noise_sd.exp().item() ** 2 / tasks.x_support.shape[1]  # Gaussian: lr * variance / K
    return (particles + rate * score).detach()


def particle_loss(seed: int, svgd_steps: bool, num_inner_steps: int = 1, first_order: bool = False,
                  likelihood: str = "gaussian", body_width: int = 0) -> dict:
    """The meta-loss of a seeded particle model, its gradients, and the query log-likelihoods to check it."""
    options = dict(num_particles=4, hidden=8, num_inner_steps=num_inner_steps, svgd=svgd_steps, inner_lr=0.01,
                   first_order=first_order, likelihood=likelihood, body_width=body_width)
    if likelihood == "bernoulli":
        from data.attributes import NUM_ATTRIBUTES, AmbiguousAttributes

        options["input_dim"] = NUM_ATTRIBUTES
        tasks = AmbiguousAttributes(seed).sample(3, 1, 8)
    else:
        tasks = regression_tasks(seed)
    model = seeded_particle_model(seed, **options)
    loss, metrics = model.train().loss(tasks)
    loss.backward()
    adapted = model.eval().adapt(tasks.x_support, tasks.y_support).detach()
    query_log_likelihood = model.log_likelihood(adapted, tasks.x_query, tasks.y_query).detach()
    return {"loss": loss.detach(), "query_log_likelihood": query_log_likelihood,
            "metrics": {name: torch.tensor(float(value)) for name, value in metrics.items()},
            "gradients": {name: p.grad for name, p in model.named_parameters() if p.requires_grad}}


def particle_meta_gradient(seed: int, first_order: bool) -> dict:
    """The meta-gradient of the initial particles of a seeded ensemble (2 inner steps) on seeded tasks."""
    model = seeded_particle_model(seed, num_particles=4, hidden=8, num_inner_steps=2, svgd=False, inner_lr=0.05,
                                  first_order=first_order)
    loss, _ = model.train().loss(regression_tasks(seed))
    loss.backward()
    return {"initial": model.initial.grad}


def mixture_meta_loss(query_log_likelihood: torch.Tensor) -> torch.Tensor:
    """SVGD's meta-loss, by hand: minus log (1/P) sum_p prod_m p(y_m | particle p), per point, averaged over tasks."""
    num_particles, num_points = query_log_likelihood.shape[1:]
    return -((query_log_likelihood.sum(-1).logsumexp(1) - math.log(num_particles)) / num_points).mean()


def ensemble_meta_loss(query_log_likelihood: torch.Tensor) -> torch.Tensor:
    """The ensemble's meta-loss, by hand: the mixture's term plus the members' mean query NLL."""
    return mixture_meta_loss(query_log_likelihood) - query_log_likelihood.mean()


def query_gradient_at_adapted_particles(seed: int) -> torch.Tensor:
    """First-order MAML's meta-gradient of the initial particles: the query gradient at the adapted particles,
    which are treated as constants, summed over the tasks that share the initial particles: [P, D]."""
    model = seeded_particle_model(seed, num_particles=4, hidden=8, num_inner_steps=2, svgd=False, inner_lr=0.05)
    tasks = regression_tasks(seed)
    adapted = model.eval().adapt(tasks.x_support, tasks.y_support).detach().requires_grad_(True)
    loss = ensemble_meta_loss(model.log_likelihood(adapted, tasks.x_query, tasks.y_query))
    gradient, = torch.autograd.grad(loss, adapted)
    return gradient.sum(0)


def metric(name: str, *args, **kwargs):
    """One function of hw3.metrics; floats come back as tensors."""
    import hw3.metrics as metrics

    value = getattr(metrics, name)(*args, **kwargs)
    return torch.tensor(value) if isinstance(value, float) else value


def pick(variance: torch.Tensor, available: torch.Tensor) -> torch.Tensor:
    from hw3.active import pick_max_entropy

    return pick_max_entropy(variance, available)


class _WiggleModel:
    """A stand-in model for the active-learning loop: its variance at x is the distance to the nearest support input
    (plus 0.01), its mean is the target of the nearest support input."""

    def predict(self, x_support, y_support, x_query):
        distance = (x_query - x_support.transpose(1, 2)).abs()  # [B, M, K]
        nearest = distance.argmin(-1)
        mean = y_support.squeeze(-1).gather(1, nearest)
        return {"mean": mean, "variance": distance.min(-1).values + 0.01}


def active_curve(seed: int, strategy: str, num_points: int = 4, pick_seed: int | None = None) -> dict:
    """The active-learning curve of the stand-in model on seeded sinusoid tasks, and the support it picked
    (``pick_seed`` seeds the loop's generator; by default ``seed``)."""
    from hw3.active import active_learning_curve

    tasks = regression_tasks(seed, batch_size=5, num_support=30, num_query=40)
    x_pool, y_pool, x_test, y_test = tasks.x_support, tasks.y_support, tasks.x_query, tasks.y_query
    model = _WiggleModel()
    seen, measured = [], []
    original = model.predict

    def recording(x_support, y_support, x_query):
        seen.append(x_support.clone())
        if torch.equal(x_query, x_test):
            measured.append(x_support.clone())
        return original(x_support, y_support, x_query)

    model.predict = recording
    curve = active_learning_curve(model, x_pool, y_pool, x_test, y_test, num_points, strategy,
                                  torch.Generator().manual_seed(seed if pick_seed is None else pick_seed))
    return {"curve": curve, "supports": [s.squeeze(-1) for s in seen], "x_pool": x_pool.squeeze(-1),
            "measured_supports": [s.squeeze(-1) for s in measured]}


def short_training(method: str, steps: int, seed: int = 0) -> dict:
    """The weights after a short meta-training run on sinusoids (16 tasks a step, K=5, 20 query points)."""
    from common.adam import Adam  # torch.optim's, without its 67 MB import of torch._dynamo
    from data.regression import RegressionTasks

    model = _seeded_model(method, seed)
    optimizer = Adam(model.parameters(), lr=1e-3)
    train_tasks = RegressionTasks("sinusoid", seed=seed)
    for _ in range(steps):
        loss, _ = model.loss(train_tasks.sample(16, 5, 20))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.state_dict()


def _seeded_model(method: str, seed: int):
    from hw3.models import build_model

    torch.manual_seed(seed)
    return build_model(method, {})


def validation_nll(method: str, state_dict: dict | None, seed: int = 0) -> torch.Tensor:
    """Validation NLL at K=5 on 100 held-out sinusoid tasks of a model with these weights (None: its seeded start)."""
    from data.regression import RegressionTasks

    model = _seeded_model(method, seed)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    val = RegressionTasks("sinusoid", seed=seed + 1).sample(100, 5, 20)
    with torch.no_grad():
        return -model.predict(val.x_support, val.y_support, val.x_query, val.y_query)["log_prob"].mean()


@torch.no_grad()  # no graph: kept for every chunk of tasks, it would take more memory than the answers
def checkpoint_predictive(checkpoint: dict, x_support, y_support, x_query, probes=None) -> dict:
    """The submitted model's predictive on the grader's tasks, without their query targets.

    Regression: the mixture's components, means and variances [S, B, M]. Classification: particle logits at the
    query inputs [B, P, M] and at the probe inputs [B, P, V].
    """
    from hw3.models import build_model

    model = build_model(checkpoint["kind"], checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    torch.manual_seed(0)
    # A few tasks at a time: the hidden activations of 64 samples (or of every particle) over all the tasks would
    # take hundreds of MB, and on the grader this runs in the trusted process, within the grading's memory budget.
    tasks = 5
    if checkpoint["task"]["family"] == "attributes":
        return {"logits": model.particle_outputs(x_support, y_support, x_query, tasks_per_chunk=tasks),
                "probe_logits": model.particle_outputs(x_support, y_support, probes, tasks_per_chunk=tasks)}
    chunks = [model.components(x_support[start:start + tasks], y_support[start:start + tasks], x_query[start:start + tasks])
              for start in range(0, len(x_support), tasks)]
    out = {"means": torch.cat([chunk[0] for chunk in chunks], 1), "variances": torch.cat([chunk[1] for chunk in chunks], 1)}
    if len(chunks[0]) == 3:  # a weighted mixture (alpaca): its log weights [S, B]
        out["log_weights"] = torch.cat([chunk[2] for chunk in chunks], 1)
    return out



# --------------------------------------------------------------------------- going further: ABML


def abml_function(name: str, inputs: dict) -> dict:
    """diagonal_gaussian_kl or expected_log_likelihood of hw3.abml, with its gradients."""
    import hw3.abml as abml

    return with_gradients(getattr(abml, name), inputs)


def seeded_abml(seed: int, **config):
    """A seeded ABML model (8 features), built as a checkpoint's model is, with its prior's sds and the noise
    moved off their initial values so that every term of the ELBO matters."""
    from hw3.models import build_model

    torch.manual_seed(seed)
    model = build_model("abml", {"body_width": 8, "inner_lr": 0.05, **config})
    with torch.no_grad():
        model.prior_log_sd.add_(0.3 * torch.randn_like(model.prior_log_sd))
        model.log_noise_sd.fill_(-0.5)
    return model


def abml_adapt(seed: int, num_inner_steps: int = 1, train: bool = True, **config) -> dict:
    """The adapted q of a seeded ABML model on seeded sinusoid tasks."""
    model = seeded_abml(seed, num_inner_steps=num_inner_steps, **config).train(train)
    tasks = regression_tasks(seed)
    mean, log_sd = model.adapt(tasks.x_support, tasks.y_support)
    return {"mean": mean.detach(), "log_sd": log_sd.detach(), "keeps_graph": mean.requires_grad and log_sd.requires_grad,
            "prior_mean": model.prior_mean.detach(), "prior_log_sd": model.prior_log_sd.detach()}


def abml_loss(seed: int, first_order: bool = False, num_inner_steps: int = 2, **config) -> dict:
    """The meta-loss of a seeded ABML model, its metrics and gradients."""
    model = seeded_abml(seed, num_inner_steps=num_inner_steps, first_order=first_order, **config).train()
    loss, metrics = model.loss(regression_tasks(seed))
    loss.backward()
    return {"loss": loss.detach(), "metrics": {name: torch.tensor(float(value)) for name, value in metrics.items()},
            "gradients": {name: p.grad for name, p in model.named_parameters() if p.grad is not None}}


def _abml_elbo_by_hand(model, mean, log_sd, x, y):
    """A task's ELBO [B] written out here: torch.distributions' KL, and E_q log N(y; phi . w, noise^2) from the
    residual's mean and variance under q."""
    from torch.distributions import Normal, kl_divergence

    features, noise_variance = model.features(x), (2 * model.log_noise_sd).exp()
    residual = y.squeeze(-1) - (features * mean.unsqueeze(1)).sum(-1)                              # [B, M]
    spread = (features.square() * (2 * log_sd).exp().unsqueeze(1)).sum(-1)                         # [B, M]
    expected = -0.5 * ((residual.square() + spread) / noise_variance + torch.log(2 * torch.pi * noise_variance))
    prior = Normal(model.prior_mean, model.prior_log_sd.exp())
    return expected.sum(-1) - kl_divergence(Normal(mean, log_sd.exp()), prior).sum(-1)


def _abml_adapt_by_hand(model, x_support, y_support, create_graph: bool):
    mean = model.prior_mean.expand(len(x_support), -1)
    log_sd = model.prior_log_sd.expand(len(x_support), -1)
    mean_rate, log_sd_rate = model.log_inner_lrs.exp()
    mean_rate = mean_rate * (2 * model.log_noise_sd).exp() / x_support.shape[1]  # the means' rate: lr * variance / K
    for _ in range(model.num_inner_steps):
        elbo = _abml_elbo_by_hand(model, mean, log_sd, x_support, y_support)
        d_mean, d_log_sd = torch.autograd.grad(elbo.sum(), (mean, log_sd), create_graph=create_graph)
        mean, log_sd = mean + mean_rate * d_mean, log_sd + log_sd_rate * d_log_sd
    return mean, log_sd


def abml_adapt_by_hand(seed: int, num_inner_steps: int = 1, **config) -> dict:
    """What ``abml_adapt`` must give, computed here without the submission's ABML code."""
    model = seeded_abml(seed, num_inner_steps=num_inner_steps, **config)
    tasks = regression_tasks(seed)
    mean, log_sd = _abml_adapt_by_hand(model, tasks.x_support, tasks.y_support, False)
    return {"mean": mean.detach(), "log_sd": log_sd.detach()}


def abml_loss_by_hand(seed: int, first_order: bool = False, num_inner_steps: int = 2, **config) -> dict:
    """What ``abml_loss`` must give, computed here without the submission's ABML code."""
    from torch.distributions import Normal, kl_divergence

    model = seeded_abml(seed, num_inner_steps=num_inner_steps, first_order=first_order, **config)
    tasks = regression_tasks(seed)
    mean, log_sd = _abml_adapt_by_hand(model, tasks.x_support, tasks.y_support, not first_order)
    # q's predictive at each query point: y = phi . w + noise, with w ~ q, a Gaussian of these moments.
    features = model.features(tasks.x_query)
    predictive = Normal((features * mean.unsqueeze(1)).sum(-1),
                        ((2 * model.log_noise_sd).exp() + (features.square() * (2 * log_sd).exp().unsqueeze(1)).sum(-1)).sqrt())
    loss = -predictive.log_prob(tasks.y_query.squeeze(-1)).mean()
    loss.backward()
    kl = kl_divergence(Normal(mean, log_sd.exp()), Normal(model.prior_mean, model.prior_log_sd.exp())).sum(-1)
    return {"loss": loss.detach(), "kl": kl.mean().detach(),
            "gradients": {name: p.grad for name, p in model.named_parameters() if p.grad is not None}}


# --------------------------------------------------------------------------- going further: ALPaCA


def seeded_alpaca(seed: int, width: int = 6, hidden: int = 16, num_components: int = 2):
    """A seeded ALPaCA model, built as a checkpoint's model is, with its prior, noise and component logits moved
    off their initial values so that every term matters."""
    from hw3.models import build_model

    torch.manual_seed(seed)
    model = build_model("alpaca", {"width": width, "hidden": hidden, "num_components": num_components})
    with torch.no_grad():
        model.prior_mean.normal_()
        model.prior_factor.copy_(torch.eye(width) * (0.5 + torch.rand(num_components, width, 1))
                                 + 0.3 * torch.randn(num_components, width, width))
        model.log_noise_sd.fill_(-1.2)  # sd 0.3, the tasks' noise: log s2 < -log(2 pi) < 0, no constant can hide in it
        model.component_logits.normal_()
    return model


def alpaca_outputs(seed: int, num_support: int = 4, order: list | None = None, **config) -> dict:
    """A seeded ALPaCA model on seeded sinusoid-or-line tasks: its posterior (mean and precision), evidence,
    predictive components, loss, metrics and the loss's gradients."""
    from data.tasks import TaskBatch

    model = seeded_alpaca(seed, **config)
    tasks = regression_tasks(seed, num_support=num_support, family="sinusoid_or_line")
    x_support, y_support = tasks.x_support, tasks.y_support
    if order is not None:
        x_support, y_support = x_support[:, order], y_support[:, order]
    mean, cholesky = model.posterior(x_support, y_support)
    means, variances, log_weights = model.components(x_support, y_support, tasks.x_query)
    loss, metrics = model.loss(TaskBatch(x_support, y_support, tasks.x_query, tasks.y_query))
    loss.backward()
    return {"mean": mean.detach(), "precision": (cholesky @ cholesky.transpose(-1, -2)).detach(),
            "log_evidence": model.log_evidence(x_support, y_support).detach(),
            "means": means.detach(), "variances": variances.detach(), "log_weights": log_weights.detach(),
            "loss": loss.detach(), "metrics": {name: torch.tensor(float(value)) for name, value in metrics.items()},
            "gradients": {name: p.grad for name, p in model.named_parameters() if p.grad is not None}}


def alpaca_by_hand(seed: int, num_support: int = 4, **config) -> dict:
    """What ``alpaca_outputs`` must give, written out here in float64 with explicit inverses, from the model's
    provided features, prior precision and noise: the evidence as the density of the K targets under their
    marginal Gaussian [K, K], not through the posterior as the model computes it."""
    from torch.distributions import Normal

    model = seeded_alpaca(seed, **config).double()
    tasks = regression_tasks(seed, num_support=num_support, family="sinusoid_or_line")
    x_support, y_support, x_query, y_query = (t.double() for t in (tasks.x_support, tasks.y_support, tasks.x_query,
                                                                   tasks.y_query))
    phi, phi_query = model.features(x_support), model.features(x_query)              # [B, C, K, W], [B, C, M, W]
    prior, noise = model.prior_precision(), model.noise_variance()                   # [C, W, W], scalar
    precision = prior + phi.transpose(-1, -2) @ phi / noise
    covariance = torch.linalg.inv(precision)
    mean = (covariance @ (prior @ model.prior_mean.unsqueeze(-1)
                          + phi.transpose(-1, -2) @ y_support.unsqueeze(1) / noise)).squeeze(-1)
    marginal = phi @ torch.linalg.inv(prior) @ phi.transpose(-1, -2) + noise * torch.eye(x_support.shape[1]).double()
    if num_support:
        evidence = multivariate_normal_log_density(y_support.squeeze(-1).unsqueeze(1),
                                                   (phi @ model.prior_mean.unsqueeze(-1)).squeeze(-1), marginal)  # [B, C]
    else:  # no targets: the evidence is 1
        evidence = torch.zeros(len(x_support), model.num_components, dtype=torch.float64)
    log_weights = torch.log_softmax(torch.log_softmax(model.component_logits, 0) + evidence, -1).T   # [C, B]
    means = (phi_query @ mean.unsqueeze(-1)).squeeze(-1).transpose(0, 1)             # [C, B, M]
    variances = (noise + (phi_query @ covariance * phi_query).sum(-1)).transpose(0, 1)
    densities = Normal(means, variances.sqrt()).log_prob(y_query.squeeze(-1))          # [C, B, M]
    loss = -torch.logsumexp(densities + log_weights.unsqueeze(-1), 0).mean()
    loss.backward()
    return {"mean": mean.detach(), "precision": precision.detach(), "log_evidence": evidence.detach(),
            "means": means.detach(), "variances": variances.detach(), "log_weights": log_weights.detach(),
            "loss": loss.detach(), "noise_sd": model.log_noise_sd.exp().detach(),
            "gradients": {name: p.grad for name, p in model.named_parameters() if p.grad is not None}}


def multivariate_normal_log_density(y: torch.Tensor, mean: torch.Tensor, covariance: torch.Tensor) -> torch.Tensor:
    """log N(y; mean, covariance) for y, mean [..., K] and covariance [..., K, K], with an explicit inverse.
    (torch.distributions.MultivariateNormal would do, but it imports sympy: 34 MB in the grader's trusted process.)"""
    residual = (y - mean).unsqueeze(-1)
    quadratic = (residual.transpose(-1, -2) @ torch.linalg.inv(covariance) @ residual).squeeze(-1).squeeze(-1)
    return -0.5 * (quadratic + torch.linalg.slogdet(covariance).logabsdet + y.shape[-1] * math.log(2 * math.pi))


def alpaca_chain(seed: int, num_support: int = 5, **config) -> dict:
    """log_evidence of K points, and the sum over k of the log predictive density of point k given points < k
    (``components`` on the first k - 1 points, weighted by their log weights): equal for an exact posterior."""
    model = seeded_alpaca(seed, **config)
    tasks = regression_tasks(seed, num_support=num_support, family="sinusoid_or_line")
    x, y = tasks.x_support, tasks.y_support
    with torch.no_grad():
        evidence = torch.logsumexp(model.log_evidence(x, y) + torch.log_softmax(model.component_logits, 0), -1)  # [B]
        chain = torch.zeros(len(x))
        for k in range(num_support):
            means, variances, log_weights = model.components(x[:, :k], y[:, :k], x[:, k:k + 1])
            density = -0.5 * ((y[:, k, 0] - means[..., 0]).square() / variances[..., 0]
                              + torch.log(2 * torch.pi * variances[..., 0]))          # [C, B]
            chain += torch.logsumexp(density + log_weights, 0)
    return {"evidence": evidence, "chain": chain}
