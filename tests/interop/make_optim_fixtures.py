"""The optimizer side of the interoperability fixtures (imported by make_interop_fixtures.py):
PyTorch's own LR sequences and optimizer steps, for tests/interop/optim_parity_test.cpp to match.

  schedules.json   per case: the trainer's schedule options, the run's length, two groups' base
                   LRs, and the LR of every optimizer step as torch.optim.lr_scheduler sets it,
                   stepped as PyTorch users step it (warmup, cosine and onecycle per batch, the
                   others per epoch; a warmup before cosine through SequentialLR, before the others
                   chained on the same optimizer).
  optimizers.json  per case: an optimizer's options, three parameters in two groups, the gradients
                   of five steps and the parameters after each step, as torch.optim computes them.
"""
import json
import warnings

import torch
from torch.optim import lr_scheduler as S

BASE_LRS = [0.1, 0.03]

SCHEDULES = {
    "step": dict(lr_schedule="step", lr_step=2, lr_gamma=0.5, epochs=7, steps_per_epoch=5),
    "step_warmup": dict(lr_schedule="step", lr_step=2, lr_gamma=0.5, warmup_steps=7, warmup_start_factor=0.1,
                        epochs=7, steps_per_epoch=5),
    "multistep_warmup_epochs": dict(lr_schedule="multistep", lr_milestones=[2, 4], lr_gamma=0.3, warmup_epochs=1,
                                    warmup_start_factor=0.01, epochs=6, steps_per_epoch=9),
    "exponential_warmup": dict(lr_schedule="exponential", lr_gamma=0.8, warmup_steps=3, epochs=8, steps_per_epoch=4),
    "cosine": dict(lr_schedule="cosine", lr_min=0.0, epochs=6, steps_per_epoch=11),
    "cosine_warmup": dict(lr_schedule="cosine", lr_min=0.001, warmup_steps=50, warmup_start_factor=0.01, epochs=10,
                          steps_per_epoch=37),
    # A whole run of 20,000 steps: PyTorch's recursive updates against our closed form.
    "cosine_warmup_long": dict(lr_schedule="cosine", lr_min=1e-4, warmup_epochs=2, epochs=100, steps_per_epoch=200),
    "onecycle": dict(lr_schedule="onecycle", pct_start=0.25, div_factor=25.0, final_div_factor=1e4, epochs=8,
                     steps_per_epoch=25),
    "onecycle_defaults": dict(lr_schedule="onecycle", epochs=3, steps_per_epoch=1000),
}


def schedule_lrs(case):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in BASE_LRS]
    optimizer = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, BASE_LRS)], lr=BASE_LRS[0])
    epochs, per_epoch = case["epochs"], case["steps_per_epoch"]
    total = epochs * per_epoch
    warmup = case.get("warmup_steps", 0) or case.get("warmup_epochs", 0) * per_epoch
    start = case.get("warmup_start_factor", 0.001)
    name = case["lr_schedule"]
    per_step, per_epoch_schedulers = [], []
    if name == "cosine":
        if warmup:
            linear = S.LinearLR(optimizer, start_factor=start, total_iters=warmup)
            cosine = S.CosineAnnealingLR(optimizer, T_max=total - warmup, eta_min=case["lr_min"])
            per_step.append(S.SequentialLR(optimizer, [linear, cosine], milestones=[warmup]))
        else:
            per_step.append(S.CosineAnnealingLR(optimizer, T_max=total, eta_min=case["lr_min"]))
    elif name == "onecycle":
        per_step.append(S.OneCycleLR(optimizer, max_lr=BASE_LRS, total_steps=total, cycle_momentum=False,
                                     pct_start=case.get("pct_start", 0.3), div_factor=case.get("div_factor", 25.0),
                                     final_div_factor=case.get("final_div_factor", 1e4)))
    else:
        if warmup:
            per_step.append(S.LinearLR(optimizer, start_factor=start, total_iters=warmup))
        gamma = case["lr_gamma"]
        if name == "step":
            per_epoch_schedulers.append(S.StepLR(optimizer, step_size=case["lr_step"], gamma=gamma))
        elif name == "multistep":
            per_epoch_schedulers.append(S.MultiStepLR(optimizer, milestones=case["lr_milestones"], gamma=gamma))
        else:
            per_epoch_schedulers.append(S.ExponentialLR(optimizer, gamma=gamma))
    lrs = []
    for _ in range(epochs):
        for _ in range(per_epoch):
            lrs.append([group["lr"] for group in optimizer.param_groups])
            optimizer.step()
            for scheduler in per_step:
                scheduler.step()
        for scheduler in per_epoch_schedulers:
            scheduler.step()
    return lrs


# Groups: "a." with its own LR (and momentum where the optimizer has one), the rest by default.
OPTIMIZERS = {
    "sgd_nesterov": dict(optimizer="sgd", lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3,
                         group_lr=0.1, group_momentum=0.5),
    "adam": dict(optimizer="adam", lr=1e-2, betas=[0.8, 0.99], eps=1e-7, weight_decay=1e-2, group_lr=3e-2),
    "adamw": dict(optimizer="adamw", lr=1e-2, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.05, group_lr=3e-2),
    "rmsprop": dict(optimizer="rmsprop", lr=1e-2, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0,
                    group_lr=2e-2),
    "rmsprop_centered_momentum": dict(optimizer="rmsprop", lr=1e-2, alpha=0.9, eps=1e-6, momentum=0.5, centered=True,
                                      weight_decay=1e-3, group_lr=2e-2, group_momentum=0.8),
}


def make_torch_optimizer(case, groups):
    o = dict(case)
    kind = o.pop("optimizer")
    group_lr, group_momentum = o.pop("group_lr"), o.pop("group_momentum", None)
    first = {"params": groups[0], "lr": group_lr}
    if group_momentum is not None:
        first["momentum"] = group_momentum
    if "betas" in o:
        o["betas"] = tuple(o["betas"])
    make = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
            "rmsprop": torch.optim.RMSprop}[kind]
    return make([first, {"params": groups[1]}], **o)


def optimizer_steps(case, seed):
    generator = torch.Generator().manual_seed(seed)
    named = {"a.weight": torch.randn(4, 3, generator=generator), "a.bias": torch.randn(4, generator=generator),
             "b.weight": torch.randn(2, 4, generator=generator)}
    params = {name: torch.nn.Parameter(value.clone()) for name, value in named.items()}
    optimizer = make_torch_optimizer(case, [[params["a.weight"], params["a.bias"]], [params["b.weight"]]])
    steps = []
    for _ in range(5):
        grads = {name: torch.randn(p.shape, generator=generator) for name, p in params.items()}
        for name, p in params.items():
            p.grad = grads[name].clone()
        optimizer.step()
        steps.append({"grads": {n: g.flatten().tolist() for n, g in grads.items()},
                      "params": {n: p.detach().flatten().tolist() for n, p in params.items()}})
    return {"options": case, "shapes": {n: list(v.shape) for n, v in named.items()},
            "initial": {n: v.flatten().tolist() for n, v in named.items()}, "steps": steps}


def write_optim_fixtures(out_dir):
    warnings.filterwarnings("ignore", message="The epoch parameter")  # SequentialLR's own step(0)
    schedules = {name: dict(case, base_lrs=BASE_LRS, lrs=schedule_lrs(case)) for name, case in SCHEDULES.items()}
    with open(f"{out_dir}/schedules.json", "w") as out:
        json.dump(schedules, out)
    optimizers = {name: optimizer_steps(case, seed) for seed, (name, case) in enumerate(OPTIMIZERS.items())}
    with open(f"{out_dir}/optimizers.json", "w") as out:
        json.dump(optimizers, out)
