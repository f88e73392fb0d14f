"""CIFAR-10N on a CPU: small CNN, worst and aggre human labels, CE vs robust methods; detection.

Training (one row per label set and method): clean test accuracy (all 10,000 test images) of
the last epoch, for CE, GCE, SCE, ELR (core losses), co-teaching (core selector, two networks)
and DivideMix (:mod:`labelnoise.train_dividemix`), plus CE on the clean labels of the same
images (the ceiling). To fit a shared 2-core CPU, the training set is a fixed random subset
(``--train-size``, default 2,500 of 50,000 images); runs go to ``--jobs`` single-threaded
worker processes.

Protocol (the same for every method and label set): Co-teaching's CIFAR protocol (Han et al.,
NeurIPS 2018), where plain CE memorises the noisy labels -- no augmentation, Adam 1e-3 held for
40 % of the epochs then decayed linearly to 0, last epoch reported; a width-32 BatchNorm CNN
(4 conv blocks, 0.24 M parameters) that fits the 2,500 noisy labels. Hyper-parameters are the
papers' CIFAR-10 values, not tuned here: GCE q 0.7, SCE alpha 0.1 / beta 1.0, ELR lambda 3 /
beta 0.7, co-teaching forget rate = the label set's published noise rate, rounded (0.4 worst, 0.1
aggre; our detection estimates it from the data too, see the notes under the table) reached
after Tk = epochs / 4, DivideMix lambda_u 25 at ~40 % noise and 0 at ~10 % (the paper's rule),
warm-up and ramp-up scaled to the epoch count. ``--augment --optim sgd --lr 0.05`` gives the
usual crop/flip + SGD-cosine setting instead.

Detection: out-of-sample ``pred_probs`` of the same subset from 2-fold cross-validation
(:func:`labelnoise.common.detection.cross_val_pred_probs`, small CNN, CE), scored against the
clean labels (AUROC, AUPRC, precision at the true number of wrong labels): our label-quality
scores and ``find_label_issues`` next to cleanlab's ``find_label_issues`` on the same
predictions (a flag mask scores as quality ``1 - flagged``).

The loop here is a compact in-memory version of the engine's (tensors, channels-last, no
Accelerate, no checkpoints) so the whole table fits the CPU budget; it uses the same core
losses, selector, models and DivideMix functions as ``labelnoise train
recipes/cifar10n/*_small_cnn.yaml`` / ``*_dividemix.yaml`` (whose LR schedule is the engine's
linear decay from the start).

    python benchmarks/cifar10n.py --data-dir ../shared/data --json benchmarks/results/cifar10n.json
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from _common import data_dir_or_exit, markdown_table, parser, report, row
from labelnoise.train_dividemix import codivide, dividemix_loss

from labelnoise.common.detection import (
    cross_val_pred_probs,
    estimate_joint,
    find_label_issues,
    get_label_quality_scores,
)
from labelnoise.common.losses import build_loss
from labelnoise.common.metrics import auprc, auroc, precision_at_k
from labelnoise.common.selection import build_selector
from labelnoise.tasks.cifar10n.data import augment, load_arrays, to_float
from labelnoise.tasks.cifar10n.models import SmallCNN

METHODS: dict[str, dict[str, Any]] = {
    "ce": {"loss": "ce"},
    "dividemix": {"dividemix": True},
    "coteaching": {"coteaching": True},
    "elr": {"loss": "elr", "lam": 3.0, "beta": 0.7},
    "gce": {"loss": "gce", "q": 0.7},
    "sce": {"loss": "sce", "alpha": 0.1, "beta": 1.0},
}
FORGET = {"worst": 0.4, "aggre": 0.1}  # co-teaching forget rate = the label set's noise rate
LAMBDA_U = {"worst": 25.0, "aggre": 0.0}  # DivideMix: 25 at ~40 % noise, 0 at ~10 % (paper)
CL = torch.channels_last
OPTIM = {
    "adam": "Adam (constant LR for 40 % of the epochs, then linear to 0)",
    "sgd": "SGD (cosine)",
}
COST = {"dividemix": 5, "coteaching": 2}  # run time relative to CE, to start long jobs first


def _data(args: dict[str, Any], label_set: str) -> dict[str, Any]:
    d = load_arrays(
        args["data_dir"], label_set, train_size=args["train_size"], cache_dir=args["cache_dir"]
    )

    def images(a: np.ndarray) -> torch.Tensor:  # channels-last: ~2x faster convs on one thread
        return to_float(torch.from_numpy(np.ascontiguousarray(a))).contiguous(memory_format=CL)

    return {
        "x": images(d["x"]),
        "y": torch.from_numpy(d["noisy"]),
        "clean": torch.from_numpy(d["clean"]),
        "x_test": images(d["x_test"]),
        "y_test": torch.from_numpy(d["y_test"]),
    }


def _net(args: dict[str, Any]) -> torch.nn.Module:
    return SmallCNN(10, width=args["width"]).to(memory_format=CL)


def _optimizer(model: torch.nn.Module, args: dict[str, Any]):
    """Optimizer and a per-epoch LR schedule. ``adam``: Co-teaching's protocol (Han et al.,
    2018), Adam with the LR constant for 40 % of the epochs, then linear to 0; ``sgd``:
    momentum 0.9, weight decay 5e-4, cosine."""
    lr, epochs = args["lr"], args["epochs"]
    if args["optim"] == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        factor = lambda e: min(1.0, (epochs - e) / (0.6 * epochs))  # noqa: E731
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
        factor = lambda e: 0.5 * (1 + math.cos(math.pi * e / epochs))  # noqa: E731
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _batches(n: int, bs: int, g: torch.Generator, idx: torch.Tensor | None = None):
    idx = torch.arange(n) if idx is None else idx
    perm = idx[torch.randperm(len(idx), generator=g)]
    return [perm[i : i + bs] for i in range(0, len(perm), bs)]


def _predict(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(x[i : i + 256]) for i in range(0, len(x), 256)])
    model.train()
    return out


def _train(
    method: str,
    x: torch.Tensor,
    y: torch.Tensor,
    args: dict[str, Any],
    label_set: str,
    on_epoch: Callable[[torch.nn.Module], None] | None = None,
) -> torch.nn.Module:
    """Train and return the evaluated network (network A for two-network methods);
    ``on_epoch(network A)`` after every epoch."""
    spec, bs, epochs, n = METHODS[method], args["batch_size"], args["epochs"], len(y)
    g = torch.Generator().manual_seed(args["seed"])
    torch.manual_seed(args["seed"])
    view = (lambda xb: augment(xb, g)) if args["augment"] else (lambda xb: xb)  # noqa: E731
    end_epoch = on_epoch or (lambda m: None)
    if spec.get("dividemix"):
        nets = [_net(args) for _ in range(2)]
        optim = [_optimizer(m, args) for m in nets]
        fwd = lambda m, xb: m(view(xb))  # noqa: E731
        for epoch in range(epochs):
            if epoch < args["warmup"]:
                for k in range(2):
                    for b in _batches(n, bs, g):
                        _step(optim[k], F.cross_entropy(fwd(nets[k], x[b]), y[b]))
                    optim[k][1].step()
                end_epoch(nets[0])
                continue
            ramp = min(1.0, (epoch - args["warmup"] + 1) / args["rampup"])
            prob = [codivide(F.cross_entropy(_predict(m, x), y, reduction="none")) for m in nets]
            for k in range(2):
                w = torch.as_tensor(prob[1 - k], dtype=torch.float32)
                lab, unl = torch.nonzero(w > 0.5).view(-1), torch.nonzero(w <= 0.5).view(-1)
                ub = _batches(n, bs, g, unl) if len(unl) else []
                for i, b in enumerate(_batches(n, bs, g, lab)):
                    xu = x[ub[i % len(ub)]] if ub else x[:0]
                    loss = dividemix_loss(
                        fwd,
                        nets[k],
                        nets[1 - k],
                        x[b],
                        y[b],
                        w[b],
                        xu,
                        num_classes=10,
                        lambda_u=LAMBDA_U[label_set] * ramp,
                        generator=g,
                    )
                    _step(optim[k], loss)
                optim[k][1].step()
            end_epoch(nets[0])
        return nets[0]
    if spec.get("coteaching"):
        nets = [_net(args) for _ in range(2)]
        optim = [_optimizer(m, args) for m in nets]
        sel = build_selector(
            "coteaching",
            num_examples=n,
            forget_rate=FORGET[label_set],
            num_gradual=args["num_gradual"],
        )
        step = 0
        for epoch in range(epochs):
            for b in _batches(n, bs, g):
                xb = view(x[b])
                la = F.cross_entropy(nets[0](xb), y[b], reduction="none")
                lb = F.cross_entropy(nets[1](xb), y[b], reduction="none")
                wa, wb = sel.select(la.detach(), lb.detach(), b, step=step)
                _step(optim[0], (wa * la).sum() / wa.sum().clamp_min(1.0))
                _step(optim[1], (wb * lb).sum() / wb.sum().clamp_min(1.0))
                step += 1
            sel.on_epoch_end(epoch)
            optim[0][1].step()
            optim[1][1].step()
            end_epoch(nets[0])
        return nets[0]
    opts = {k: v for k, v in spec.items() if k != "loss"}
    loss_fn = build_loss(spec["loss"], num_classes=10, num_examples=n, **opts)
    model = _net(args)
    opt = _optimizer(model, args)
    for _ in range(epochs):
        for b in _batches(n, bs, g):
            _step(opt, loss_fn(model(view(x[b])), y[b], b).mean())
        opt[1].step()
        end_epoch(model)
    return model


def _step(opt_sched, loss: torch.Tensor) -> None:
    opt = opt_sched[0]
    opt.zero_grad()
    loss.backward()
    opt.step()


def _job(job: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    label_set, method, args = job
    torch.set_num_threads(1)
    t0 = time.time()
    d = _data(args, label_set)
    if method == "detection":
        det_args = dict(args, epochs=args["det_epochs"])

        def fit_predict(x_tr, y_tr, x_te):
            m = _train("ce", x_tr, torch.as_tensor(y_tr), det_args, label_set)
            return torch.softmax(_predict(m, x_te), 1).double().numpy()

        probs = cross_val_pred_probs(
            fit_predict, d["x"], d["y"].numpy(), n_splits=2, seed=args["seed"]
        )
        return {
            "label_set": label_set,
            "method": method,
            "probs": probs,
            "labels": d["y"].numpy(),
            "clean": d["clean"].numpy(),
            "sec": time.time() - t0,
        }
    curve: list[float] = []
    stride = max(1, len(d["y_test"]) // max(1, args["curve"]))  # the test zip is class-sorted
    x_c, y_c = d["x_test"][::stride], d["y_test"][::stride]

    def on_epoch(model: torch.nn.Module) -> None:
        curve.append(float((_predict(model, x_c).argmax(1) == y_c).float().mean()))

    record = on_epoch if method == "ce" and args["curve"] else None
    model = _train(method, d["x"], d["y"], args, label_set, record)
    acc = float((_predict(model, d["x_test"]).argmax(1) == d["y_test"]).float().mean())
    noise = float((d["y"] != d["clean"]).float().mean())
    return {
        "label_set": label_set,
        "method": method,
        "acc": acc,
        "noise": noise,
        "curve": curve,
        "sec": time.time() - t0,
    }


def _detection_rows(r: dict[str, Any]) -> list[tuple[str, np.ndarray]]:
    from cleanlab.filter import find_label_issues as cl_find

    labels, probs = r["labels"], r["probs"]
    out = [
        (f"ours {m}", get_label_quality_scores(labels, probs, method=m))
        for m in ("self_confidence", "normalized_margin")
    ]
    out.append(("ours find_label_issues (mask)", 1.0 - find_label_issues(labels, probs)))
    out.append(("cleanlab find_label_issues (mask)", 1.0 - cl_find(labels, probs)))
    return out


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--train-size", type=int, default=2500)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2, help="DivideMix CE warm-up epochs")
    p.add_argument("--rampup", type=int, default=3, help="DivideMix lambda_u ramp-up epochs")
    p.add_argument("--num-gradual", type=int, default=5, help="co-teaching Tk (epochs)")
    p.add_argument("--det-epochs", type=int, default=5)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--augment", action="store_true", help="random crop + flip (default: none)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--optim", choices=["sgd", "adam"], default="adam")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--label-sets", nargs="+", default=["worst", "aggre", "clean"])
    p.add_argument("--methods", nargs="+", default=[*METHODS, "detection"])
    p.add_argument("--curve", type=int, default=1000, help="CE per-epoch test images (0: off)")
    p.add_argument("--tag", default="", help="write benchmarks/results/cifar10n<tag>.md")
    p.add_argument("--cache-dir", type=Path, default=Path("~/.cache/labelnoise").expanduser())
    a = p.parse_args()
    args = {
        "data_dir": data_dir_or_exit(a),
        "train_size": a.train_size,
        "epochs": a.epochs,
        "warmup": a.warmup,
        "rampup": a.rampup,
        "num_gradual": a.num_gradual,
        "det_epochs": a.det_epochs,
        "width": a.width,
        "augment": a.augment,
        "batch_size": a.batch_size,
        "lr": a.lr,
        "optim": a.optim,
        "seed": a.seed,
        "curve": a.curve,
        "cache_dir": a.cache_dir,
    }
    load_arrays(args["data_dir"], "clean", cache_dir=a.cache_dir)  # build the cache once
    # the clean labels get CE only (the reference); the longest jobs start first
    jobs = [(ls, m, args) for ls in a.label_sets for m in a.methods if ls != "clean" or m == "ce"]
    order = {(ls, m): i for i, (ls, m, _) in enumerate(jobs)}
    jobs.sort(key=lambda j: -COST.get(j[1], 1))
    t0 = time.time()
    results: list[dict[str, Any]] = []
    with get_context("fork").Pool(a.jobs) as pool:
        for r in pool.imap_unordered(_job, jobs):
            results.append(r)
            done = {k: v for k, v in r.items() if k not in ("probs", "labels", "clean")}
            print(f"[{time.time() - t0:.0f} s] {done}", flush=True)
            results.sort(key=lambda r: order[(r["label_set"], r["method"])])
            _write(a, results, time.time() - t0, len(jobs))


def _write(a: Any, results: list[dict[str, Any]], wall: float, n_jobs: int) -> None:
    """Render the tables of the jobs finished so far (the report says when it is partial)."""
    rows, train_table, det_table, notes = [], [], [], []
    ce = {r["label_set"]: r["acc"] for r in results if r["method"] == "ce"}
    for r in results:
        setting = f"{r['label_set']}, n={a.train_size}"
        if r["method"] == "detection":
            truth = r["labels"] != r["clean"]
            for name, q in _detection_rows(r):
                vals = [auroc(truth, q), auprc(truth, q), precision_at_k(truth, q)]
                det_table.append([r["label_set"], name, *vals])
                for metric, v in zip(("auroc", "auprc", "precision_at_k"), vals):
                    rows.append(row(setting, name, metric, v))
            est = 1.0 - float(np.trace(estimate_joint(r["labels"], r["probs"])))
            notes.append(
                f"- {r['label_set']}: noise rate estimated from these pred_probs (calibrated "
                f"confident joint) {est:.3f}; true {truth.mean():.3f}."
            )
            rows.append(row(setting, "confident joint", "noise_rate_estimate", est))
            continue
        delta = 100 * (r["acc"] - ce.get(r["label_set"], float("nan")))
        train_table.append(
            [r["label_set"], r["noise"], r["method"], 100 * r["acc"], delta, round(r["sec"])]
        )
        rows.append(row(setting, r["method"], "clean_test_acc", r["acc"], seconds=r["sec"]))
        if r.get("curve"):
            c = 100 * np.asarray(r["curve"])
            notes.append(
                f"- CE on {r['label_set']} labels, test accuracy after each epoch (every "
                f"{10000 // a.curve}th test image; for information, not used to pick anything): "
                + ", ".join(f"{v:.1f}" for v in c)
                + f"; peak {c.max():.1f} (epoch {int(c.argmax()) + 1}), last {c[-1]:.1f}."
            )
    rows.append(row("all", "benchmark", "wall_seconds", wall))
    table = (
        markdown_table(
            ["labels", "noise rate", "method", "clean test acc %", "vs CE (points)", "s"],
            train_table,
        )
        + "\n\nDetection (out-of-sample 2-fold pred_probs, scored against the clean labels):\n\n"
        + markdown_table(["labels", "detector", "AUROC", "AUPRC", "P@true-noise-count"], det_table)
        + ("\n\n" + "\n".join(notes) if notes else "")
    )
    state = "" if len(results) == n_jobs else f" PARTIAL: {len(results)} of {n_jobs} jobs."
    pre = (
        f"Small CNN (width {a.width}, channels-last), {a.train_size} training images (fixed "
        f"random subset), {'crop + flip' if a.augment else 'no'} augmentation, full 10,000-image "
        f"clean test set, {a.epochs} epochs of {OPTIM[a.optim]} (lr {a.lr}), last epoch, seed "
        f"{a.seed}. Co-teaching forget rate {FORGET} (Tk {a.num_gradual} epochs); DivideMix "
        f"{a.warmup} CE warm-up epochs, lambda_u {LAMBDA_U} ramped over {a.rampup} epochs; "
        f"detection: 2-fold CE, {a.det_epochs} epochs per fold. {a.jobs} single-thread "
        f"workers. Wall time: {wall:.0f} s (load average at the end: "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)." + state
    )
    report(f"cifar10n{a.tag}", table, rows, a.json, preamble=pre)


if __name__ == "__main__":
    main()
