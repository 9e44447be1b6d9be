"""Speed of one meta-training step of hw2's learners, implementation choices side by side.

    taskset -c 0 python -m benchmarks.hw2_speed --threads 1 --rounds 7

MAML (CS330's defaults: 5-way 1-shot, 15 queries per class, 16 tasks, one inner
step, second order) is timed as
  - loop:        a Python loop over tasks, the reference (channels-last activations);
  - loop NCHW:   the same with the default memory format;
  - loop bf16:   the same under bfloat16 autocast;
  - vmap:        torch.func: functional_call, grad and vmap over the tasks;
  - grouped:     all tasks in one grouped convolution (groups = tasks), per-task parameters.
ProtoNet (20-way 1-shot, 5 queries, one task) as channels-last, NCHW and bf16.
Every variant's meta-gradient is compared with the reference's on the same
batch. Rounds interleave the variants; the table gives medians and the ratio to
the reference. Writes docs/benchmarks/hw2_speed.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

from autograder.reference import use_reference
from harness import KIT_ROOT as ROOT

use_reference()  # `import hwN` gives the reference

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from benchmarks.hw2_time_to_accuracy import cpu_name
from data.tasks import TaskBatch
from hw2.backbone import ConvNet
from hw2.maml import MAML
from hw2.models import build_model
from hw2.protonet import ProtoNet

NUM_WAY, NUM_QUERY, TASKS = 5, 15, 16


def random_tasks(num_way: int, num_query: int, tasks: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    support = torch.rand(tasks, num_way, 1, 28, 28, generator=generator)
    query = torch.rand(tasks, num_way * num_query, 1, 28, 28, generator=generator)
    support_labels = torch.arange(num_way).repeat(tasks, 1)
    query_labels = torch.arange(num_way).repeat_interleave(num_query).repeat(tasks, 1)
    return TaskBatch(support, support_labels, query, query_labels)


def maml_loop(model: MAML, batch, autocast: bool = False) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        loss, _ = model.loss(batch)
    return loss


def maml_vmap(model: MAML, batch) -> torch.Tensor:
    network, inner_lr = model.network, model.inner_lrs
    meta = dict(network.named_parameters())

    def query_loss(parameters, support, support_labels, query, query_labels):
        def support_loss(p):
            return F.cross_entropy(functional_call(network, (p,), (support,)), support_labels)

        gradients = grad(support_loss)(parameters)
        adapted = {name: parameters[name] - inner_lr[name] * gradients[name] for name in parameters}
        return F.cross_entropy(functional_call(network, (adapted,), (query,)), query_labels)

    tensors = batch.x_support, batch.y_support, batch.x_query, batch.y_query
    return vmap(query_loss, in_dims=(None, 0, 0, 0, 0))(meta, *tensors).mean()


def grouped_forward(network: ConvNet, images: torch.Tensor, parameters: dict) -> torch.Tensor:
    """Logits [B, M, N] of B tasks with per-task parameters [B, ...], as one grouped convolution per block."""
    tasks, num_images = images.shape[:2]
    x = images.transpose(0, 1).reshape(num_images, tasks, *images.shape[-2:])  # [M, B*1, H, W]
    for block in range(4):
        weight = parameters[f"conv{block}_weight"]
        x = F.conv2d(x, weight.flatten(0, 1), parameters[f"conv{block}_bias"].flatten(), 2, padding=1, groups=tasks)
        x = F.batch_norm(x, None, None, parameters[f"norm{block}_weight"].flatten(),
                         parameters[f"norm{block}_bias"].flatten(), training=True)  # per task: channels are per task
        x = F.relu(x)
    features = x.reshape(num_images, tasks, -1).transpose(0, 1)
    return torch.baddbmm(parameters["head_bias"].unsqueeze(1), features, parameters["head_weight"].transpose(1, 2))


def maml_grouped(model: MAML, batch) -> torch.Tensor:
    support, support_labels, query, query_labels = batch.x_support, batch.y_support, batch.x_query, batch.y_query
    tasks = len(support)

    def task_losses(logits, labels):  # the sum over tasks of each task's mean: per-task gradients stay separate
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none").view(tasks, -1).mean(1)

    parameters = {name: p.expand(tasks, *p.shape) for name, p in model.network.named_parameters()}
    gradients = torch.autograd.grad(task_losses(grouped_forward(model.network, support, parameters), support_labels).sum(),
                                    list(parameters.values()), create_graph=True)
    adapted = {name: p - model.inner_lrs[name] * g for (name, p), g in zip(parameters.items(), gradients)}
    return task_losses(grouped_forward(model.network, query, adapted), query_labels).mean()


def protonet_step(model: ProtoNet, batch, autocast: bool = False) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        loss, _ = model.loss(batch)
    return loss


def gradient_of(model: torch.nn.Module, step) -> torch.Tensor:
    model.zero_grad()
    step().backward()
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    maml = build_model("maml", {"num_way": NUM_WAY})
    maml_nchw = build_model("maml", {"num_way": NUM_WAY})
    maml_nchw.load_state_dict(maml.state_dict())
    maml_nchw.network.memory_format = torch.contiguous_format
    protonet = build_model("protonet", {})
    protonet_nchw = build_model("protonet", {})
    protonet_nchw.load_state_dict(protonet.state_dict())
    protonet_nchw.network.memory_format = torch.contiguous_format
    maml_batch = random_tasks(NUM_WAY, NUM_QUERY, TASKS)
    proto_batch = random_tasks(20, 5, 1)

    variants = {
        "MAML: loop, channels-last (reference)": (maml, lambda: maml_loop(maml, maml_batch)),
        "MAML: loop, NCHW": (maml_nchw, lambda: maml_loop(maml_nchw, maml_batch)),
        "MAML: loop, bf16 autocast": (maml, lambda: maml_loop(maml, maml_batch, autocast=True)),
        "MAML: torch.func vmap(grad)": (maml_nchw, lambda: maml_vmap(maml_nchw, maml_batch)),
        "MAML: grouped convolution": (maml_nchw, lambda: maml_grouped(maml_nchw, maml_batch)),
        "ProtoNet: channels-last (reference)": (protonet, lambda: protonet_step(protonet, proto_batch)),
        "ProtoNet: NCHW": (protonet_nchw, lambda: protonet_step(protonet_nchw, proto_batch)),
        "ProtoNet: bf16 autocast": (protonet, lambda: protonet_step(protonet, proto_batch, autocast=True)),
    }
    reference = {"MAML": gradient_of(maml, variants["MAML: loop, channels-last (reference)"][1]),
                 "ProtoNet": gradient_of(protonet, variants["ProtoNet: channels-last (reference)"][1])}
    errors = {}
    for name, (model, step) in variants.items():
        want = reference[name.split(":")[0]]
        errors[name] = ((gradient_of(model, step) - want).abs().max() / want.abs().max()).item()

    seconds = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, (model, step) in variants.items():
            start = time.perf_counter()
            gradient_of(model, step)
            seconds[name].append(time.perf_counter() - start)

    lines = ["# hw2: speed of one meta-training step", "",
             f"`taskset -c 0 python -m benchmarks.hw2_speed --threads {args.threads} --rounds {args.rounds}` on "
             f"{cpu_name()} (CPUs {sorted(os.sched_getaffinity(0))}), torch {torch.__version__}. Medians of "
             f"{args.rounds} interleaved rounds; the gradient error is the largest difference from the reference's "
             "meta-gradient, relative to its largest entry.", "",
             f"MAML: {NUM_WAY}-way 1-shot, {NUM_QUERY} queries per class, {TASKS} tasks, one inner step, second order. "
             "ProtoNet: one 20-way 1-shot task with 5 queries per class.", "",
             "| variant | seconds per step | relative to the reference | gradient error |",
             "| --- | ---: | ---: | ---: |"]
    for name in variants:
        base = statistics.median(seconds[("MAML" if name.startswith("MAML") else "ProtoNet")
                                         + (": loop, channels-last (reference)" if name.startswith("MAML")
                                            else ": channels-last (reference)")])
        median = statistics.median(seconds[name])
        lines.append(f"| {name} | {median:.3f} | {median / base:.2f}x | {errors[name]:.1e} |")
    lines += ["", "Why the reference is a plain loop over tasks: batching the tasks, by torch.func's vmap or by one",
              "grouped convolution, was slower on this CPU, not faster; the per-task convolutions are already",
              "large enough for oneDNN. bfloat16 autocast is many times slower on a CPU without native bf16",
              "arithmetic and changes the gradient. vmap's meta-gradient also differs from the loop's by",
              "about 1e-2 of its largest entry, where the grouped version (an independent implementation) agrees",
              "with the loop to 1e-4; we did not chase the cause, since vmap lost on speed anyway. The memory",
              "layout makes little difference at one thread; the reference keeps channels-last."]
    out = ROOT / "docs" / "benchmarks" / "hw2_speed.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
