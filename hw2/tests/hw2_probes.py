"""Probes of hw2: they run in the worker, call your code on seeded inputs and return tensors."""
import torch
import torch.nn.functional as F


def seeded_tasks(seed: int, num_way: int, num_support: int, num_query: int, batch_size: int = 2):
    """A TaskBatch of random images, as the sampler lays it out: support in class order, query shuffled."""
    from data.tasks import TaskBatch

    generator = torch.Generator().manual_seed(seed)
    support = torch.rand(batch_size, num_way * num_support, 1, 28, 28, generator=generator)
    query = torch.rand(batch_size, num_way * num_query, 1, 28, 28, generator=generator)
    support_labels = torch.arange(num_way).repeat_interleave(num_support).repeat(batch_size, 1)
    query_labels = torch.stack([torch.arange(num_way).repeat_interleave(num_query)[torch.randperm(num_way * num_query, generator=generator)]
                                for _ in range(batch_size)])
    return TaskBatch(support, support_labels, query, query_labels)


def seeded_maml(seed: int, num_way: int, num_inner_steps: int, inner_lr: float = 0.4, learn_inner_lrs: bool = False,
                first_order: bool = False):
    from hw2.models import build_model

    torch.manual_seed(seed)
    return build_model("maml", {"num_way": num_way, "num_inner_steps": num_inner_steps, "inner_lr": inner_lr,
                                "learn_inner_lrs": learn_inner_lrs, "first_order": first_order})


def maml_adapt(seed: int, num_way: int = 3, num_support: int = 2, num_inner_steps: int = 1, train: bool = True,
               inner_lr: float = 0.4) -> dict:
    """Adapted parameters and support accuracies of a seeded MAML on one seeded task, in training mode or not."""
    model = seeded_maml(seed, num_way, num_inner_steps, inner_lr).train(train)
    before = {name: tensor.detach().clone() for name, tensor in model.network.named_parameters()}
    task = seeded_tasks(seed, num_way, num_support, 1, batch_size=1)
    parameters, accuracies = model.adapt(task.x_support[0], task.y_support[0])
    unchanged = all(torch.equal(before[name], tensor) for name, tensor in model.network.named_parameters())
    return {"parameters": {name: tensor.detach() for name, tensor in parameters.items()},
            "keeps_graph": {name: tensor.requires_grad for name, tensor in parameters.items()},
            "accuracies": torch.tensor(accuracies), "meta_parameters_unchanged": unchanged}


def sgd_steps(seed: int, num_steps: int = 1, num_way: int = 3, num_support: int = 2, inner_lr: float = 0.4) -> dict:
    """What the inner loop must give, computed here from the provided network alone: the parameters after
    ``num_steps`` plain gradient steps, and the support accuracy before each step and after the last."""
    model = seeded_maml(seed, num_way, num_steps, inner_lr)
    task = seeded_tasks(seed, num_way, num_support, 1, batch_size=1)
    support, support_labels = task.x_support, task.y_support
    parameters = dict(model.network.named_parameters())
    accuracies = []
    for _ in range(num_steps + 1):
        logits = model.network(support[0], parameters)
        accuracies.append((logits.argmax(-1) == support_labels[0]).float().mean())
        if len(accuracies) > num_steps:
            break
        gradients = torch.autograd.grad(F.cross_entropy(logits, support_labels[0]), list(parameters.values()))
        parameters = {name: (tensor - inner_lr * gradient).detach().requires_grad_()
                      for (name, tensor), gradient in zip(parameters.items(), gradients)}
    return {"parameters": {name: tensor.detach() for name, tensor in parameters.items()},
            "accuracies": torch.stack(accuracies)}


def maml_loss(seed: int, num_way: int = 3, num_support: int = 1, num_query: int = 2, num_inner_steps: int = 1,
              first_order: bool = False, learn_inner_lrs: bool = False, train: bool = True) -> dict:
    """Loss, metrics and meta-gradients of a seeded MAML on a seeded batch of two tasks, in training mode or not."""
    model = seeded_maml(seed, num_way, num_inner_steps, learn_inner_lrs=learn_inner_lrs, first_order=first_order)
    loss, metrics = model.train(train).loss(seeded_tasks(seed, num_way, num_support, num_query))
    gradients = {}
    if train:
        loss.backward()
        gradients = {name: p.grad for name, p in model.named_parameters() if p.requires_grad}
    return {"loss": loss.detach(), "metrics": {name: torch.tensor(float(value)) for name, value in metrics.items()},
            "gradients": gradients,
            "inner_lr_requires_grad": {name: p.requires_grad for name, p in model.inner_lrs.items()}}


def maml_expected_accuracies(seed: int, num_inner_steps: int, num_way: int = 3, num_support: int = 1,
                             num_query: int = 2, inner_lr: float = 0.4) -> dict:
    """The metrics MAML.loss must report, computed here from the provided network alone: the support accuracy
    before adaptation and after ``num_inner_steps`` plain gradient steps, and the adapted query accuracy, each
    averaged over the two tasks of the seeded batch."""
    model = seeded_maml(seed, num_way, num_inner_steps, inner_lr)
    batch = seeded_tasks(seed, num_way, num_support, num_query)
    correct = lambda logits, labels: (logits.argmax(-1) == labels).float().mean()  # noqa: E731
    before, after, query = [], [], []
    for task in range(len(batch)):
        parameters = dict(model.network.named_parameters())
        before.append(correct(model.network(batch.x_support[task], parameters), batch.y_support[task]))
        for _ in range(num_inner_steps):
            loss = F.cross_entropy(model.network(batch.x_support[task], parameters), batch.y_support[task])
            gradients = torch.autograd.grad(loss, list(parameters.values()))
            parameters = {name: (tensor - inner_lr * gradient).detach().requires_grad_()
                          for (name, tensor), gradient in zip(parameters.items(), gradients)}
        after.append(correct(model.network(batch.x_support[task], parameters), batch.y_support[task]))
        query.append(correct(model.network(batch.x_query[task], parameters), batch.y_query[task]))
    return {"support_accuracy_before": torch.stack(before).mean(), "support_accuracy": torch.stack(after).mean(),
            "query_accuracy": torch.stack(query).mean()}


def meta_gradient(seed: int, first_order: bool, num_way: int = 3, num_support: int = 1, num_query: int = 2) -> dict:
    """MAML's meta-gradient for one inner step (inner_lr 0.4), computed here from the provided network alone.

    Second order: differentiate the query loss through the inner gradient step. First order: the query
    gradient at the adapted parameters, treated as constants."""
    model = seeded_maml(seed, num_way, 1)
    batch = seeded_tasks(seed, num_way, num_support, num_query)
    support, support_labels, query, query_labels = batch.x_support, batch.y_support, batch.x_query, batch.y_query
    names, tensors = zip(*model.network.named_parameters())
    total = [torch.zeros_like(tensor) for tensor in tensors]
    for task in range(len(support)):
        loss = F.cross_entropy(model.network(support[task]), support_labels[task])
        gradients = torch.autograd.grad(loss, tensors, create_graph=not first_order)
        adapted = [tensor - 0.4 * gradient for tensor, gradient in zip(tensors, gradients)]
        if first_order:
            adapted = [tensor.detach().requires_grad_() for tensor in adapted]
        query_loss = F.cross_entropy(model.network(query[task], dict(zip(names, adapted))), query_labels[task])
        with_respect_to = adapted if first_order else tensors
        for index, gradient in enumerate(torch.autograd.grad(query_loss, with_respect_to)):
            total[index] += gradient / len(support)
    return {f"network.{name}": gradient for name, gradient in zip(names, total)}


def prototype_logits(support_features, support_labels, query_features, num_way: int) -> dict:
    """Logits and their gradients with respect to both sets of features."""
    from hw2.protonet import prototype_logits as logits_of

    support_features = support_features.clone().requires_grad_(True)
    query_features = query_features.clone().requires_grad_(True)
    logits = logits_of(support_features, support_labels, query_features, num_way)
    weights = torch.linspace(-1, 1, logits.numel()).view(logits.shape)  # a generic direction, not just the sum
    (logits * weights).sum().backward()
    return {"logits": logits.detach(), "support_gradient": support_features.grad, "query_gradient": query_features.grad}


def seeded_protonet(seed: int):
    from hw2.models import build_model

    torch.manual_seed(seed)
    return build_model("protonet", {})


def protonet_loss(seed: int, num_way: int = 3, num_support: int = 2, num_query: int = 2) -> dict:
    """Loss, metrics and gradients of a seeded ProtoNet on a seeded batch of two tasks."""
    model = seeded_protonet(seed)
    loss, metrics = model.loss(seeded_tasks(seed, num_way, num_support, num_query))
    loss.backward()
    return {"loss": loss.detach(), "metrics": {name: torch.tensor(float(value)) for name, value in metrics.items()},
            "gradients": {name: p.grad for name, p in model.named_parameters()}}


def protonet_expected_step(seed: int, num_way: int = 3, num_support: int = 2, num_query: int = 2) -> dict:
    """What ProtoNet.loss must give, computed here from the provided network alone: each task's support and
    query images embedded in one call (batch statistics over both), prototypes, logits, cross-entropy."""
    network = seeded_protonet(seed).network
    batch = seeded_tasks(seed, num_way, num_support, num_query)
    support, support_labels, query, query_labels = batch.x_support, batch.y_support, batch.x_query, batch.y_query
    losses, query_accuracies, support_accuracies = [], [], []
    for task in range(len(support)):
        features = network(torch.cat([support[task], query[task]]))
        support_features, query_features = features[:len(support[task])], features[len(support[task]):]
        prototypes = torch.stack([support_features[support_labels[task] == n].mean(0) for n in range(num_way)])
        distances = lambda x: (x.unsqueeze(1) - prototypes.unsqueeze(0)).square().sum(-1)  # noqa: E731
        logits = -distances(query_features)
        losses.append(F.cross_entropy(logits, query_labels[task]))
        query_accuracies.append((logits.argmax(-1) == query_labels[task]).float().mean())
        support_accuracies.append((distances(support_features).argmin(-1) == support_labels[task]).float().mean())
    return {"loss": torch.stack(losses).mean().detach(), "query_accuracy": torch.stack(query_accuracies).mean(),
            "support_accuracy": torch.stack(support_accuracies).mean()}


def short_training(train_images: torch.Tensor, method: str, steps: int, batch_size: int, seed: int = 0) -> dict:
    """A short 5-way 1-shot meta-training run (5 queries per class) on the training characters it is given
    (uint8 [C, 20, 28, 28]): its query accuracies and its weights, which the test evaluates on tasks of its own."""
    from common.adam import Adam  # torch.optim's, without its 67 MB import of torch._dynamo
    from data.episodes import split_support_query

    generator = torch.Generator().manual_seed(seed)
    model = fresh_learner(method, seed)
    optimizer = Adam(model.parameters(), lr=3e-3 if method == "maml" else 1e-3)
    accuracies = []
    for _ in range(steps):
        classes = torch.stack([torch.randperm(len(train_images), generator=generator)[:5] for _ in range(batch_size)])
        drawings = torch.stack([torch.randperm(20, generator=generator)[:6] for _ in range(batch_size * 5)]).view(batch_size, 5, 6)
        # Only the episode becomes float: the whole set as float would hold 60 MB more in the worker.
        episode = train_images[classes.unsqueeze(-1), drawings].unsqueeze(3).float() / 255  # [B, 5, 6, 1, 28, 28]
        batch = split_support_query(episode, 1, generator)
        loss, metrics = model.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        accuracies.append(metrics["query_accuracy"])
    return {"accuracies": torch.tensor(accuracies), "state_dict": model.state_dict()}


def fresh_learner(method: str, seed: int = 0):
    """The learner ``short_training`` starts from: first-order MAML (5-way, one step of 0.4) or ProtoNet."""
    if method == "maml":
        return seeded_maml(seed, 5, 1, 0.4, first_order=True)
    return seeded_protonet(seed)


def fresh_weights(method: str, seed: int = 0) -> dict:
    """The weights ``short_training`` starts from."""
    return fresh_learner(method, seed).state_dict()


def checkpoint_logits(checkpoint: dict, support: torch.Tensor, support_labels: torch.Tensor,
                      query: torch.Tensor) -> torch.Tensor:
    """Query logits [B, M, N] of the submitted learner; support and query are uint8 [B, _, 1, 28, 28] (ink = 255)."""
    from hw2.models import build_model

    learner = build_model(checkpoint["kind"], checkpoint["config"])
    learner.load_state_dict(checkpoint["state_dict"])
    learner.eval()
    return learner.predict(support.float() / 255, support_labels, query.float() / 255)


# --------------------------------------------------------------------------- going further: ANIL


def seeded_anil(seed: int, num_way: int, num_inner_steps: int, inner_lr: float = 0.4, learn_inner_lrs: bool = False,
                first_order: bool = False):
    from hw2.models import build_model

    torch.manual_seed(seed)
    return build_model("anil", {"num_way": num_way, "num_inner_steps": num_inner_steps, "inner_lr": inner_lr,
                                "learn_inner_lrs": learn_inner_lrs, "first_order": first_order})


def anil_adapt(seed: int, num_way: int = 3, num_support: int = 2, num_inner_steps: int = 1, train: bool = True,
               inner_lr: float = 0.4) -> dict:
    """Adapted parameters and support accuracies of a seeded ANIL on one seeded task, and whether each adapted
    tensor is the network's own tensor (not a copy) or depends on the meta-parameters."""
    model = seeded_anil(seed, num_way, num_inner_steps, inner_lr).train(train)
    own = dict(model.network.named_parameters())
    task = seeded_tasks(seed, num_way, num_support, 1, batch_size=1)
    parameters, accuracies = model.adapt(task.x_support[0], task.y_support[0])
    return {"parameters": {name: tensor.detach() for name, tensor in parameters.items()},
            "is_own_tensor": {name: tensor is own.get(name) for name, tensor in parameters.items()},
            "keeps_graph": {name: tensor.requires_grad for name, tensor in parameters.items()},
            "accuracies": torch.tensor(accuracies)}


def head_steps(seed: int, num_steps: int = 1, num_way: int = 3, num_support: int = 2, inner_lr: float = 0.4) -> dict:
    """What ANIL's inner loop must give, computed here from the provided network alone: plain gradient steps
    on the head's two tensors, the body fixed, and the support accuracy before each step and after the last."""
    model = seeded_anil(seed, num_way, num_steps, inner_lr)
    task = seeded_tasks(seed, num_way, num_support, 1, batch_size=1)
    parameters = {name: tensor.detach().clone().requires_grad_() for name, tensor in model.network.named_parameters()}
    accuracies = []
    for step in range(num_steps + 1):
        logits = model.network(task.x_support[0], parameters)
        accuracies.append((logits.argmax(-1) == task.y_support[0]).float().mean())
        if step == num_steps:
            break
        head = [parameters["head_weight"], parameters["head_bias"]]
        gradients = torch.autograd.grad(F.cross_entropy(logits, task.y_support[0]), head)
        for name, tensor, gradient in zip(("head_weight", "head_bias"), head, gradients):
            parameters[name] = (tensor - inner_lr * gradient).detach().requires_grad_()
    return {"parameters": {name: tensor.detach() for name, tensor in parameters.items()},
            "accuracies": torch.stack(accuracies)}


def anil_loss(seed: int, num_way: int = 3, num_support: int = 1, num_query: int = 2, num_inner_steps: int = 1,
              first_order: bool = False, learn_inner_lrs: bool = False) -> dict:
    """Loss and meta-gradients of a seeded ANIL (training mode) on a seeded batch of two tasks."""
    model = seeded_anil(seed, num_way, num_inner_steps, learn_inner_lrs=learn_inner_lrs, first_order=first_order)
    loss, metrics = model.train().loss(seeded_tasks(seed, num_way, num_support, num_query))
    loss.backward()
    return {"loss": loss.detach(), "metrics": {name: torch.tensor(float(value)) for name, value in metrics.items()},
            "gradients": {name: p.grad for name, p in model.named_parameters() if p.requires_grad}}


def anil_meta_gradient(seed: int, first_order: bool, num_way: int = 3, num_support: int = 1, num_query: int = 2) -> dict:
    """ANIL's meta-gradient for one inner step of 0.4 on the head, computed here from the provided network alone.

    Second order: differentiate the query loss through the head's inner step, into the head's initial
    tensors and the body (whose features the inner gradient depends on). First order: the adapted head is
    a constant; the body still gets the query loss's gradient through the query features."""
    model = seeded_anil(seed, num_way, 1)
    batch = seeded_tasks(seed, num_way, num_support, num_query)
    names, tensors = zip(*model.network.named_parameters())
    total = [torch.zeros_like(tensor) for tensor in tensors]
    for task in range(len(batch)):
        parameters = dict(zip(names, tensors))
        support_loss = F.cross_entropy(model.network(batch.x_support[task], parameters), batch.y_support[task])
        head = (parameters["head_weight"], parameters["head_bias"])
        gradients = torch.autograd.grad(support_loss, head, create_graph=not first_order)
        adapted = [tensor - 0.4 * gradient for tensor, gradient in zip(head, gradients)]
        if first_order:
            adapted = [tensor.detach() + (initial - initial.detach()) for tensor, initial in zip(adapted, head)]
        query_loss = F.cross_entropy(model.network(batch.x_query[task], {**parameters, "head_weight": adapted[0],
                                                                         "head_bias": adapted[1]}), batch.y_query[task])
        for index, gradient in enumerate(torch.autograd.grad(query_loss, tensors)):
            total[index] += gradient / len(batch)
    return {f"network.{name}": gradient for name, gradient in zip(names, total)}


# --------------------------------------------------------------------------- going further: R2-D2's ridge head


def ridge_logits(support_features, support_labels, query_features, num_way: int, regularizer: float,
                 scale: float) -> dict:
    """The submission's ridge_logits and its gradients with respect to the features, lambda and the scale."""
    from hw2.ridge import ridge_logits as logits_of

    support_features = support_features.clone().requires_grad_(True)
    query_features = query_features.clone().requires_grad_(True)
    regularizer, scale = torch.tensor(regularizer, requires_grad=True), torch.tensor(scale, requires_grad=True)
    logits = logits_of(support_features, support_labels, query_features, num_way, regularizer, scale)
    weights = torch.linspace(-1, 1, logits.numel()).view(logits.shape)  # a generic direction, not just the sum
    (logits * weights).sum().backward()
    return {"logits": logits.detach(), "support_gradient": support_features.grad, "query_gradient": query_features.grad,
            "regularizer_gradient": regularizer.grad, "scale_gradient": scale.grad}


def ridge_by_least_squares(support_features, support_labels, query_features, num_way: int, regularizer: float,
                           scale: float) -> dict:
    """What ridge_logits must give, computed another way: least squares on the support rows stacked over
    sqrt(lambda) times the identity (the ridge problem written as an ordinary one), in float64."""
    support_features = support_features.double().requires_grad_(True)
    query_features = query_features.double().requires_grad_(True)
    regularizer = torch.tensor(regularizer, dtype=torch.float64, requires_grad=True)
    scale = torch.tensor(scale, dtype=torch.float64, requires_grad=True)
    dimension = support_features.shape[1]
    design = torch.cat([support_features, regularizer.sqrt() * torch.eye(dimension, dtype=torch.float64)])
    targets = torch.cat([F.one_hot(support_labels, num_way).double(), torch.zeros(dimension, num_way, dtype=torch.float64)])
    weights = torch.linalg.pinv(design) @ targets
    logits = scale * query_features @ weights
    (logits * torch.linspace(-1, 1, logits.numel(), dtype=torch.float64).view(logits.shape)).sum().backward()
    return {"logits": logits.detach().float(), "support_gradient": support_features.grad.float(),
            "query_gradient": query_features.grad.float(), "regularizer_gradient": regularizer.grad.float(),
            "scale_gradient": scale.grad.float()}


def seeded_ridge(seed: int):
    from hw2.models import build_model

    torch.manual_seed(seed)
    return build_model("ridge", {})


def ridge_loss(seed: int, num_way: int = 3, num_support: int = 2, num_query: int = 2) -> dict:
    """Loss, metrics and gradients of a seeded RidgeNet on a seeded batch of two tasks."""
    model = seeded_ridge(seed)
    loss, metrics = model.loss(seeded_tasks(seed, num_way, num_support, num_query))
    loss.backward()
    return {"loss": loss.detach(), "metrics": {name: torch.tensor(float(value)) for name, value in metrics.items()},
            "gradients": {name: p.grad for name, p in model.named_parameters()}}


def ridge_expected_loss(seed: int, num_way: int = 3, num_support: int = 2, num_query: int = 2) -> torch.Tensor:
    """What RidgeNet.loss must give, computed here from the provided network and the formula alone: each task's
    images embedded in one call, the ridge head (lambda 1, scale 10 at initialisation), the cross-entropy."""
    network = seeded_ridge(seed).network
    batch = seeded_tasks(seed, num_way, num_support, num_query)
    losses = []
    for task in range(len(batch)):
        features = network(torch.cat([batch.x_support[task], batch.x_query[task]])).double()
        support, query = features[:len(batch.x_support[task])], features[len(batch.x_support[task]):]
        one_hot = F.one_hot(batch.y_support[task], num_way).double()
        weights = torch.linalg.solve(support.T @ support + torch.eye(support.shape[1], dtype=torch.float64), support.T @ one_hot)
        losses.append(F.cross_entropy(10 * query @ weights, batch.y_query[task]))
    return torch.stack(losses).mean().detach().float()


# --------------------------------------------------------------------------- going further: Reptile


def seeded_reptile(seed: int, num_way: int, num_inner_steps: int, inner_lr: float):
    from hw2.models import build_model

    torch.manual_seed(seed)
    return build_model("reptile", {"num_way": num_way, "num_inner_steps": num_inner_steps, "inner_lr": inner_lr})


def reptile_loss(seed: int, num_way: int = 3, num_support: int = 1, num_query: int = 2, num_inner_steps: int = 2,
                 inner_lr: float = 0.1) -> dict:
    """Loss, metrics and gradients of a seeded Reptile (training mode) on a seeded batch of two tasks."""
    model = seeded_reptile(seed, num_way, num_inner_steps, inner_lr)
    loss, metrics = model.train().loss(seeded_tasks(seed, num_way, num_support, num_query))
    loss.backward()
    return {"loss": loss.detach(), "metrics": {name: torch.tensor(float(value)) for name, value in metrics.items()},
            "gradients": {name: p.grad for name, p in model.named_parameters() if p.requires_grad}}


def reptile_expected(seed: int, num_way: int = 3, num_support: int = 1, num_query: int = 2, num_inner_steps: int = 2,
                     inner_lr: float = 0.1) -> dict:
    """What Reptile.loss must give, computed here from the provided network alone: each task's images (support
    and query) fitted by plain gradient steps from theta to phi; the loss, the mean of 1/2 ||theta - phi||^2;
    its gradient, the mean of theta - phi; the accuracies before and after the fit, and on the query images."""
    model = seeded_reptile(seed, num_way, num_inner_steps, inner_lr)
    batch = seeded_tasks(seed, num_way, num_support, num_query)
    theta = {name: tensor.detach() for name, tensor in model.network.named_parameters()}
    correct = lambda logits, labels: (logits.argmax(-1) == labels).float().mean()  # noqa: E731
    losses, gradients, before, after, query = [], {name: torch.zeros_like(t) for name, t in theta.items()}, [], [], []
    for task in range(len(batch)):
        images = torch.cat([batch.x_support[task], batch.x_query[task]])
        labels = torch.cat([batch.y_support[task], batch.y_query[task]])
        phi = {name: tensor.clone().requires_grad_() for name, tensor in theta.items()}
        before.append(correct(model.network(images, phi), labels))
        for _ in range(num_inner_steps):
            steps = torch.autograd.grad(F.cross_entropy(model.network(images, phi), labels), list(phi.values()))
            phi = {name: (tensor - inner_lr * step).detach().requires_grad_() for (name, tensor), step in zip(phi.items(), steps)}
        with torch.no_grad():
            after.append(correct(model.network(images, phi), labels))
            query.append(correct(model.network(batch.x_query[task], phi), batch.y_query[task]))
        losses.append(sum(0.5 * (theta[name] - phi[name].detach()).square().sum() for name in theta))
        for name in theta:
            gradients[name] += (theta[name] - phi[name].detach()) / len(batch)
    return {"loss": torch.stack(losses).mean(),
            "metrics": {"support_accuracy_before": torch.stack(before).mean(), "support_accuracy": torch.stack(after).mean(),
                        "query_accuracy": torch.stack(query).mean()},
            "gradients": {f"network.{name}": gradient for name, gradient in gradients.items()}}


# --------------------------------------------------------------------------- going further: CAVIA


def seeded_cavia(seed: int, num_way: int, num_inner_steps: int, inner_lr: float = 1.0, learn_inner_lrs: bool = False,
                 first_order: bool = False, context_dim: int = 6):
    from hw2.models import build_model

    torch.manual_seed(seed)
    return build_model("cavia", {"num_way": num_way, "context_dim": context_dim, "num_inner_steps": num_inner_steps,
                                 "inner_lr": inner_lr, "learn_inner_lrs": learn_inner_lrs, "first_order": first_order})


def cavia_adapt(seed: int, num_way: int = 3, num_support: int = 2, num_inner_steps: int = 1, inner_lr: float = 1.0,
                train: bool = True) -> dict:
    """Adapted parameters (the context included) and support accuracies of a seeded CAVIA on one seeded task, and
    whether each entry is the network's own tensor."""
    model = seeded_cavia(seed, num_way, num_inner_steps, inner_lr).train(train)
    own = dict(model.network.named_parameters())
    task = seeded_tasks(seed, num_way, num_support, 1, batch_size=1)
    parameters, accuracies = model.adapt(task.x_support[0], task.y_support[0])
    return {"parameters": {name: tensor.detach() for name, tensor in parameters.items()},
            "is_own_tensor": {name: tensor is own.get(name) for name, tensor in parameters.items()},
            "context_keeps_graph": bool(parameters.get("context", torch.zeros(())).requires_grad),
            "accuracies": torch.tensor(accuracies)}


def context_steps(seed: int, num_steps: int = 1, num_way: int = 3, num_support: int = 2, inner_lr: float = 1.0) -> dict:
    """What CAVIA's inner loop must give, computed here from the provided network alone: plain gradient steps on a
    context that starts at zero, the weights fixed, and the support accuracy before each step and after the last."""
    model = seeded_cavia(seed, num_way, num_steps, inner_lr)
    task = seeded_tasks(seed, num_way, num_support, 1, batch_size=1)
    weights = {name: tensor.detach() for name, tensor in model.network.named_parameters()}
    context = torch.zeros(model.network.context_dim, requires_grad=True)
    accuracies = []
    for step in range(num_steps + 1):
        logits = model.network(task.x_support[0], {**weights, "context": context})
        accuracies.append((logits.argmax(-1) == task.y_support[0]).float().mean())
        if step == num_steps:
            break
        (gradient,) = torch.autograd.grad(F.cross_entropy(logits, task.y_support[0]), [context])
        context = (context - inner_lr * gradient).detach().requires_grad_()
    return {"context": context.detach(), "accuracies": torch.stack(accuracies)}


def cavia_loss(seed: int, num_way: int = 3, num_support: int = 1, num_query: int = 2, num_inner_steps: int = 1,
               first_order: bool = False, learn_inner_lrs: bool = False) -> dict:
    """Loss, metrics and meta-gradients of a seeded CAVIA (training mode) on a seeded batch of two tasks."""
    model = seeded_cavia(seed, num_way, num_inner_steps, learn_inner_lrs=learn_inner_lrs, first_order=first_order)
    loss, metrics = model.train().loss(seeded_tasks(seed, num_way, num_support, num_query))
    loss.backward()
    return {"loss": loss.detach(), "metrics": {name: torch.tensor(float(value)) for name, value in metrics.items()},
            "gradients": {name: p.grad for name, p in model.named_parameters() if p.requires_grad}}


def cavia_meta_gradient(seed: int, first_order: bool, num_way: int = 3, num_support: int = 1, num_query: int = 2) -> dict:
    """CAVIA's meta-gradient for one inner step of 1.0 on the context, computed here from the provided network alone.

    Second order: differentiate the query loss through the context's inner step into every weight. First
    order: the adapted context is a constant; the weights get the query loss's gradient at it."""
    model = seeded_cavia(seed, num_way, 1)
    batch = seeded_tasks(seed, num_way, num_support, num_query)
    names, tensors = zip(*model.network.named_parameters())
    total = [torch.zeros_like(tensor) for tensor in tensors]
    for task in range(len(batch)):
        weights = dict(zip(names, tensors))
        context = torch.zeros(model.network.context_dim, requires_grad=True)
        support_loss = F.cross_entropy(model.network(batch.x_support[task], {**weights, "context": context}),
                                       batch.y_support[task])
        (gradient,) = torch.autograd.grad(support_loss, [context], create_graph=not first_order)
        adapted = context - 1.0 * gradient
        if first_order:
            adapted = adapted.detach()
        query_loss = F.cross_entropy(model.network(batch.x_query[task], {**weights, "context": adapted}), batch.y_query[task])
        for index, gradient in enumerate(torch.autograd.grad(query_loss, tensors)):
            total[index] += gradient / len(batch)
    return {f"network.{name}": gradient for name, gradient in zip(names, total)}


# --------------------------------------------------------------------------- going further: the fine-tuning baseline


def finetuned_head_logits(support_features, support_labels, query_features, num_way: int, num_steps: int,
                          step_size: float) -> dict:
    """The submission's finetuned_head_logits, called under torch.no_grad() as predict calls it, and whether a
    gradient could flow from them into the features."""
    from hw2.finetune import finetuned_head_logits as logits_of

    support_features = support_features.clone().requires_grad_(True)
    with torch.no_grad():
        logits = logits_of(support_features, support_labels, query_features, num_way, num_steps, step_size)
    untouched = logits_of(support_features, support_labels, query_features.clone().requires_grad_(True), num_way,
                          num_steps, step_size)
    return {"logits": logits, "reaches_the_features": bool(untouched.requires_grad)}


def head_by_hand(support_features, support_labels, query_features, num_way: int, num_steps: int,
                 step_size: float) -> dict:
    """What finetuned_head_logits must give, computed another way, in float64: gradient descent from zero with the
    softmax cross-entropy's gradient written out, (softmax - one-hot) averaged over the support images."""
    features, query = support_features.double(), query_features.double()
    targets = F.one_hot(support_labels, num_way).double()
    weight = torch.zeros(num_way, features.shape[1], dtype=torch.float64)
    bias = torch.zeros(num_way, dtype=torch.float64)
    for _ in range(num_steps):
        error = ((features @ weight.T + bias).softmax(-1) - targets) / len(features)  # [N*K, N]
        weight, bias = weight - step_size * error.T @ features, bias - step_size * error.sum(0)
    return {"logits": (query @ weight.T + bias).float(), "reaches_the_features": False}


def seeded_episodes(seed: int, num_way: int, num_support: int, num_query: int, num_classes: int, batch_size: int = 2):
    """seeded_tasks with the classes [B, N] behind their labels, distinct in each task, as EpisodeSampler gives them."""
    from data.episodes import EpisodeBatch

    tasks = seeded_tasks(seed, num_way, num_support, num_query, batch_size)
    generator = torch.Generator().manual_seed(seed + 1)
    classes = torch.stack([torch.randperm(num_classes, generator=generator)[:num_way] for _ in range(batch_size)])
    return EpisodeBatch(**tasks.tensors(), classes=classes)


def seeded_finetuning(seed: int, num_classes: int):
    from hw2.models import build_model

    torch.manual_seed(seed)
    return build_model("finetune", {"num_classes": num_classes})


def finetuning_loss(seed: int, num_way: int = 3, num_support: int = 1, num_query: int = 2, num_classes: int = 11) -> dict:
    """Loss, metrics and gradients of a seeded FineTuning on a seeded batch of two episodes."""
    model = seeded_finetuning(seed, num_classes)
    loss, metrics = model.loss(seeded_episodes(seed, num_way, num_support, num_query, num_classes))
    loss.backward()
    return {"loss": loss.detach(), "metrics": {name: torch.tensor(float(value)) for name, value in metrics.items()},
            "gradients": {name: p.grad for name, p in model.named_parameters()}}


def finetuning_expected(seed: int, num_way: int = 3, num_support: int = 1, num_query: int = 2, num_classes: int = 11) -> dict:
    """What FineTuning.loss must give, computed here from the provided network and classifier alone: every image's
    class looked up image by image, all images embedded in one call, the mean cross-entropy over the classes."""
    model = seeded_finetuning(seed, num_classes)
    batch = seeded_episodes(seed, num_way, num_support, num_query, num_classes)
    images, classes = [], []
    for part, labels in ((batch.x_support, batch.y_support), (batch.x_query, batch.y_query)):
        for task in range(len(batch)):
            images.append(part[task])
            classes += [int(batch.classes[task, label]) for label in labels[task]]
    logits = model.classifier(model.network(torch.cat(images)))
    classes = torch.tensor(classes)
    loss = F.cross_entropy(logits, classes)
    loss.backward()
    correct = (logits.argmax(-1) == classes).float()
    num_support_images = batch.y_support.numel()
    return {"loss": loss.detach(),
            "metrics": {"support_accuracy": correct[:num_support_images].mean(), "query_accuracy": correct[num_support_images:].mean()},
            "gradients": {name: p.grad for name, p in model.named_parameters()}}


# --------------------------------------------------------------------------- going further: MAML++


def seeded_mamlpp(seed: int, num_way: int, num_inner_steps: int, first_order: bool = False, anneal_steps: int = 10,
                  outer_steps: int = 0):
    """A seeded MAML++ whose per-step rates and batch-norm tensors differ from step to step (as after some training),
    so that using the wrong step's shows, and whose outer-step counter is set."""
    from hw2.models import build_model

    torch.manual_seed(seed)
    model = build_model("mamlpp", {"num_way": num_way, "num_inner_steps": num_inner_steps, "inner_lr": 0.4,
                                   "first_order": first_order, "anneal_steps": anneal_steps})
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for rates in model.inner_lrs.values():
            rates.copy_(0.1 + 0.5 * torch.rand(rates.shape, generator=generator))
        for rows in model.step_norms.values():
            rows.add_(0.3 * torch.randn(rows.shape, generator=generator))
        model.outer_steps.fill_(outer_steps)
    return model


def mamlpp_adapt(seed: int, num_way: int = 3, num_support: int = 2, num_inner_steps: int = 2) -> dict:
    """The trajectory and support accuracies of a seeded MAML++ (training mode) on one seeded task."""
    model = seeded_mamlpp(seed, num_way, num_inner_steps).train()
    own = dict(model.network.named_parameters())
    task = seeded_tasks(seed, num_way, num_support, 1, batch_size=1)
    trajectory, accuracies = model.adapt_steps(task.x_support[0], task.y_support[0])
    return {"trajectory": [{name: tensor.detach() for name, tensor in parameters.items()} for parameters in trajectory],
            "first_is_own": all(tensor is own.get(name) for name, tensor in trajectory[0].items()),
            "keeps_graph": all(tensor.requires_grad for parameters in trajectory for tensor in parameters.values()),
            "accuracies": torch.tensor(accuracies)}


def mamlpp_trajectory_by_hand(seed: int, num_way: int = 3, num_support: int = 2, num_inner_steps: int = 2) -> dict:
    """What adapt_steps must give, computed here from the provided module's tensors alone: the weights step by step
    with each tensor's rate for that step; batch norm's tensors of step s from row s - 1 of step_norms."""
    model = seeded_mamlpp(seed, num_way, num_inner_steps)
    task = seeded_tasks(seed, num_way, num_support, 1, batch_size=1)
    images, labels = task.x_support[0], task.y_support[0]
    current = {name: tensor.detach() for name, tensor in model.network.named_parameters()}
    trajectory, accuracies = [dict(current)], []
    for step in range(num_inner_steps + 1):
        logits = model.network(images, current)
        accuracies.append((logits.argmax(-1) == labels).float().mean())
        if step == num_inner_steps:
            break
        weights = {name: tensor.clone().requires_grad_() for name, tensor in current.items() if not name.startswith("norm")}
        loss = F.cross_entropy(model.network(images, {**current, **weights}), labels)
        gradients = dict(zip(weights, torch.autograd.grad(loss, list(weights.values()))))
        current = {name: (tensor - model.inner_lrs[name][step] * gradients[name]).detach() for name, tensor in weights.items()}
        current.update({name: rows[step].detach() for name, rows in model.step_norms.items()})
        trajectory.append(dict(current))
    return {"trajectory": trajectory, "first_is_own": True, "keeps_graph": True, "accuracies": torch.stack(accuracies)}


def mamlpp_loss(seed: int, outer_steps: int, num_way: int = 3, num_support: int = 1, num_query: int = 2,
                num_inner_steps: int = 2, first_order: bool = False, anneal_steps: int = 10) -> dict:
    """Loss, metrics and meta-gradients of a seeded MAML++ (training mode) on a seeded batch of two tasks."""
    model = seeded_mamlpp(seed, num_way, num_inner_steps, first_order, anneal_steps, outer_steps).train()
    loss, metrics = model.loss(seeded_tasks(seed, num_way, num_support, num_query))
    loss.backward()
    return {"loss": loss.detach(), "metrics": {name: torch.tensor(float(value)) for name, value in metrics.items()},
            "gradients": {name: p.grad for name, p in model.named_parameters() if p.grad is not None}}


def mamlpp_expected(seed: int, outer_steps: int, num_way: int = 3, num_support: int = 1, num_query: int = 2,
                    num_inner_steps: int = 2, anneal_steps: int = 10) -> dict:
    """What MAML++'s loss must give (second order), computed here from the provided module's tensors: the query
    losses after each step, weighted uniformly at outer step 0 and linearly towards the last step until
    ``anneal_steps``; the meta-gradient of every parameter, the rates and the per-step batch norm included."""
    model = seeded_mamlpp(seed, num_way, num_inner_steps, anneal_steps=anneal_steps, outer_steps=outer_steps)
    batch = seeded_tasks(seed, num_way, num_support, num_query)
    progress = min(1.0, outer_steps / anneal_steps)
    weights = [(1 - progress) / num_inner_steps] * num_inner_steps
    weights[-1] += progress
    total = 0.0
    for task in range(len(batch)):
        current = dict(model.network.named_parameters())
        for step in range(num_inner_steps):
            adapted = {name: tensor for name, tensor in current.items() if not name.startswith("norm")}
            loss = F.cross_entropy(model.network(batch.x_support[task], current), batch.y_support[task])
            gradients = torch.autograd.grad(loss, list(adapted.values()), create_graph=True)
            current = {name: tensor - model.inner_lrs[name][step] * gradient
                       for (name, tensor), gradient in zip(adapted.items(), gradients)}
            current.update({name: rows[step] for name, rows in model.step_norms.items()})
            query_loss = F.cross_entropy(model.network(batch.x_query[task], current), batch.y_query[task])
            total = total + weights[step] * query_loss / len(batch)
    total.backward()
    return {"loss": total.detach(), "gradients": {name: p.grad for name, p in model.named_parameters() if p.requires_grad}}
