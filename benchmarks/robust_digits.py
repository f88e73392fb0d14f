"""Robust losses and sample selectors vs cross-entropy on scikit-learn digits with label noise.

An MLP (64-256-256-10) is trained with Adam on 1,200 digits whose labels carry 40 % symmetric
or 40 % pair-flip noise (``labelnoise.common.noise``); the table reports the clean test
accuracy (597 digits) after the last epoch, mean +- std over seeds. Every method uses the
same per-step loop: ``w = selector(unit_loss, ids, step=...)``, loss ``sum(w l) / sum(w)``.
Forward / backward correction get the true transition matrix. Needs no data (a few minutes
of CPU).

    python benchmarks/robust_digits.py [--seeds 5] [--epochs 40] [--json out.json]
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import _common
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from labelnoise.common import noise
from labelnoise.common.losses import build_loss
from labelnoise.common.selection import CoTeaching, build_selector, jocor_loss
from labelnoise.common.transition import TransitionMatrix

C = 10
RATE = 0.4


@dataclass
class Method:
    loss: str = "ce"
    loss_options: dict[str, Any] = field(default_factory=dict)
    selector: str = "none"
    selector_options: dict[str, Any] = field(default_factory=dict)
    two_networks: str = ""  # "coteaching" or "jocor"


def methods(epochs: int) -> dict[str, Method]:
    gradual = max(epochs // 6, 1)
    warm = max(epochs // 6, 1)
    return {
        "ce": Method(),
        "label_smoothing": Method("label_smoothing"),
        "nls (r=-0.2)": Method("nls"),
        "logitnorm": Method("logitnorm", {"tau": 0.5}),
        "maxsup": Method("maxsup"),
        "focal": Method("focal"),
        "gce": Method("gce"),
        "tlq": Method("tlq"),
        "sce": Method("sce"),
        "mae": Method("mae"),
        "apl nce_rce": Method("nce_rce"),
        "apl nce_mae": Method("nce_mae"),
        "bootstrap_soft": Method("bootstrap_soft"),
        "bootstrap_hard": Method("bootstrap_hard"),
        "forward (true T)": Method("forward", {"transition": "true"}),
        "backward (true T)": Method("backward", {"transition": "true"}),
        "elr": Method("elr", {"lam": 3.0, "beta": 0.7}),
        "ldr (aldr-kl, lam=10)": Method("ldr", {"lam": 10.0}),
        "small_loss": Method(
            selector="small_loss",
            selector_options={"forget_rate": RATE, "num_gradual": gradual},
        ),
        "gmm (dividemix split)": Method(selector="gmm", selector_options={"warmup_epochs": warm}),
        "bmm": Method(selector="bmm", selector_options={"warmup_epochs": warm}),
        "aum": Method(selector="aum", selector_options={"start_epoch": warm}),
        "adaptive_k": Method(selector="adaptive_k", selector_options={"warmup_epochs": warm}),
        "or_gate_topk (k=1, m=3)": Method(
            selector="or_gate_topk", selector_options={"k": 1, "m": 3, "warmup_epochs": warm}
        ),
        "co-teaching": Method(two_networks="coteaching"),
        "jocor": Method(two_networks="jocor"),
    }


def mlp(out: int, seed: int) -> nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, out)
        )


def data(seed: int, kind: str):
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=597, random_state=0, stratify=y)
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
    to = lambda a: torch.tensor((a - mean) / std, dtype=torch.float32)  # noqa: E731
    y_tr = torch.tensor(y_tr)
    simulate = noise.symmetric_noise if kind == "symmetric" else noise.pair_flip_noise
    noisy = simulate(y_tr, C, RATE, seed=seed).noisy
    t = (
        TransitionMatrix.symmetric(C, RATE)
        if kind == "symmetric"
        else TransitionMatrix.pair_flip(C, RATE)
    )
    return to(x_tr), noisy, to(x_te), torch.tensor(y_te), t


def train(method: Method, kind: str, seed: int, epochs: int, batch: int = 128) -> float:
    x, y, x_te, y_te, t = data(seed, kind)
    n = x.shape[0]
    aum = method.selector == "aum"
    nets = [mlp(C + 1 if aum else C, seed)]
    if method.two_networks:
        nets.append(mlp(C, seed + 1000))
    params = [p for net in nets for p in net.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    opts = dict(method.loss_options)
    if opts.get("transition") == "true":
        opts["transition"] = t
    loss_fn = build_loss(method.loss, num_classes=C + aum, num_examples=n, **opts)
    sel_opts = dict(method.selector_options)
    if aum:
        sel_opts.update(num_classes=C, threshold_fraction=1 / (C + 1))
    selector = build_selector(method.selector, num_examples=n, **sel_opts)
    pair = None
    if method.two_networks:
        pair = CoTeaching(
            num_examples=n,
            forget_rate=RATE,
            num_gradual=max(epochs // 6, 1),
            variant=method.two_networks,
        )
    g = torch.Generator().manual_seed(seed)
    step = 0
    for epoch in range(epochs):
        for idx in torch.randperm(n, generator=g).split(batch):
            target = y[idx]
            if aum:
                target = selector.assign_threshold_labels(target, idx)
            if pair is None:
                logits = nets[0](x[idx])
                unit = loss_fn(logits, target, idx)
                w = selector(unit.detach(), idx, step=step, logits=logits.detach(), target=target)
                loss = (w * unit).sum() / w.sum().clamp_min(1.0)
            else:
                la, lb = nets[0](x[idx]), nets[1](x[idx])
                ua, ub = loss_fn(la, target, idx), loss_fn(lb, target, idx)
                wa, wb = pair.select(
                    ua.detach(), ub.detach(), idx, step=step, logits_a=la, logits_b=lb
                )
                if method.two_networks == "jocor":
                    joint = jocor_loss(la, lb, ua, ub, co_lambda=pair.co_lambda)
                    loss = (wa * joint).sum() / wa.sum().clamp_min(1.0)
                else:
                    loss = (wa * ua).sum() / wa.sum().clamp_min(1.0) + (
                        wb * ub
                    ).sum() / wb.sum().clamp_min(1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        selector.on_epoch_end(epoch)
        if pair is not None:
            pair.on_epoch_end(epoch)
    with torch.no_grad():
        pred = nets[0](x_te)[:, :C].argmax(1)
    return float((pred == y_te).float().mean())


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0], needs_data=False)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--only", nargs="*", default=None, help="subset of method names")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = p.parse_args()
    # A tiny MLP: one thread avoids oversubscription (on the shared 2-core box the default
    # thread count ran ~40x slower).
    torch.set_num_threads(args.threads)
    start = time.time()
    table, rows = [], []
    all_methods = methods(args.epochs)
    names = args.only or list(all_methods)
    ce_mean: dict[str, float] = {}
    for name in names:
        line = [name]
        for kind in ("symmetric", "pair_flip"):
            accs = [train(all_methods[name], kind, s, args.epochs) for s in range(args.seeds)]
            mean, std = statistics.mean(accs), statistics.stdev(accs) if len(accs) > 1 else 0.0
            if name == "ce":
                ce_mean[kind] = mean
            delta = mean - ce_mean.get(kind, mean)
            line += [f"{100 * mean:.1f} +- {100 * std:.1f}", f"{100 * delta:+.1f}"]
            rows.append(_common.row(f"digits {kind} {RATE}", name, "clean_test_acc", mean, std=std))
        table.append(line)
        print(" | ".join(line), flush=True)
    header = ["method", "sym 40% acc", "vs CE", "pair 40% acc", "vs CE"]
    pre = (
        f"sklearn digits, MLP 64-256-256-10, Adam 1e-3, batch 128, {args.epochs} epochs, "
        f"{args.seeds} seeds; clean test accuracy (%) after the last epoch, mean +- std. "
        f"Run time {time.time() - start:.0f} s on CPU."
    )
    _common.report("robust_digits", _common.markdown_table(header, table), rows, args.json, pre)


if __name__ == "__main__":
    main()
