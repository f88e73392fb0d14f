"""Step-time overhead of each loss (and co-teaching) relative to cross-entropy.

Two batches: classification logits ``(256, 100)`` and segmentation logits
``(8, 21, 128, 128)``. Two measurements per loss, both as a ratio to plain ``F.cross_entropy`` timed in the same
round-robin (so machine load affects all methods alike):

* ``loss``: forward + backward of the loss alone on leaf logits (the worst case: the loss is
  the whole step);
* ``step``: a training step of a small model producing those logits (MLP 512-512-100;
  3-layer conv net 3-32-32-21 at 128 x 128) -- forward, loss, backward, SGD step.
  Co-teaching trains two models (2x by design).

Target: ``step`` ratio <= 1.05 for the plain losses. Best of ``--repeats`` rounds.

    python benchmarks/loss_overhead.py [--repeats 15] [--json out.json]
"""

from __future__ import annotations

import time
from collections.abc import Callable

import _common
import torch
from torch import nn

from labelnoise.common.losses import BINARY_LOSSES, LOSSES, REGRESSION_LOSSES, build_loss
from labelnoise.common.selection import CoTeaching
from labelnoise.common.transition import TransitionMatrix
from labelnoise.common.units import flatten_units


def loss_kwargs(name: str, c: int, shape: tuple[int, ...]) -> dict:
    if name in ("forward", "backward"):
        return {"transition": TransitionMatrix.symmetric(c, 0.2)}
    if name == "elr":
        return {"ema_target": torch.softmax(torch.randn(shape), 1)}
    return {}


def make_model(kind: str, c: int) -> nn.Module:
    if kind == "cls":
        return nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, c))
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, c, 1),
    )


def build_cases(kind: str, names: list[str]) -> tuple[dict[str, Callable], dict[str, Callable]]:
    g = torch.Generator().manual_seed(0)
    if kind == "cls":
        shape, x = (256, 100), torch.randn(256, 512, generator=g)
        target = torch.randint(0, 100, (256,), generator=g)
    else:
        shape, x = (8, 21, 128, 128), torch.randn(8, 3, 128, 128, generator=g)
        target = torch.randint(0, 21, (8, 128, 128), generator=g)
        target[:, :4] = -100
    c = shape[1]
    leaf = torch.randn(shape, generator=g).requires_grad_()
    model = make_model(kind, c)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss_only: dict[str, Callable] = {}
    step: dict[str, Callable] = {}
    baseline = {"F.cross_entropy": torch.nn.functional.cross_entropy}
    for name in ["F.cross_entropy", *names]:
        fn = baseline.get(name) or LOSSES[name]
        kw = loss_kwargs(name, c, shape)

        def run_loss(fn=fn, kw=kw) -> None:
            leaf.grad = None
            fn(leaf, target, **kw).backward()

        def run_step(fn=fn, kw=kw) -> None:
            opt.zero_grad()
            fn(model(x), target, **kw).backward()
            opt.step()

        loss_only[name], step[name] = run_loss, run_step
    model_b = make_model(kind, c)
    opt2 = torch.optim.SGD(list(model.parameters()) + list(model_b.parameters()), lr=1e-3)
    per_unit = build_loss("ce")
    pair = CoTeaching(num_examples=shape[0], forget_rate=0.2, num_gradual=1)
    pair.on_epoch_end(0)

    def run_coteaching() -> None:
        opt2.zero_grad()
        ua_units = flatten_units(model(x), target)
        ub_units = flatten_units(model_b(x), target)
        ua = per_unit(ua_units.pred, ua_units.target)
        ub = per_unit(ub_units.pred, ub_units.target)
        wa, wb = pair.select(ua.detach(), ub.detach(), ua_units.example_id, step=0)
        ((wa * ua).sum() / wa.sum() + (wb * ub).sum() / wb.sum()).backward()
        opt2.step()

    step["co-teaching (2 nets)"] = run_coteaching
    return loss_only, step


def round_robin(cases: dict[str, Callable], repeats: int) -> dict[str, float]:
    """Best (minimum) seconds per case, interleaving the cases in every round: on a shared
    machine the minimum is the least load-dependent estimate (as ``timeit`` advises)."""
    for fn in cases.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {k: min(v) for k, v in times.items()}


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0], needs_data=False)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = p.parse_args()
    # One thread: on a shared, loaded CPU, thread oversubscription swamps the ratios.
    torch.set_num_threads(args.threads)
    names = sorted(set(LOSSES) - BINARY_LOSSES - REGRESSION_LOSSES, key=lambda n: n != "ce")
    results: dict[str, dict[str, float]] = {}
    rows = []
    for kind, label in (("cls", "(256, 100)"), ("seg", "(8, 21, 128, 128)")):
        loss_only, step = build_cases(kind, names)
        lo = round_robin(loss_only, args.repeats)
        st = round_robin(step, args.repeats)
        for name in list(step):
            r_loss = lo[name] / lo["F.cross_entropy"] if name in lo else float("nan")
            r_step = st[name] / st["F.cross_entropy"]
            results.setdefault(name, {})[f"{label} loss"] = r_loss
            results[name][f"{label} step"] = r_step
            rows.append(_common.row(label, name, "loss_time_ratio", r_loss))
            rows.append(_common.row(label, name, "step_time_ratio", r_step))
        results["F.cross_entropy"][f"{label} ms"] = 1000 * st["F.cross_entropy"]
        results["F.cross_entropy"][f"{label} loss ms"] = 1000 * lo["F.cross_entropy"]
    header = [
        "loss",
        "(256,100) loss",
        "(256,100) step",
        "(8,21,128,128) loss",
        "(8,21,128,128) step",
    ]
    table = []
    for name, r in results.items():
        table.append(
            [
                name,
                r["(256, 100) loss"],
                r["(256, 100) step"],
                r["(8, 21, 128, 128) loss"],
                r["(8, 21, 128, 128) step"],
            ]
        )
    ce = results["F.cross_entropy"]
    pre = (
        f"Time ratio to plain ``F.cross_entropy`` (best of {args.repeats} interleaved rounds, CPU, "
        f"{torch.get_num_threads()} threads). F.cross_entropy absolute: (256,100) loss "
        f"{ce['(256, 100) loss ms']:.2f} ms, step {ce['(256, 100) ms']:.2f} ms; (8,21,128,128) "
        f"loss {ce['(8, 21, 128, 128) loss ms']:.1f} ms, step {ce['(8, 21, 128, 128) ms']:.1f} ms."
    )
    _common.report("loss_overhead", _common.markdown_table(header, table), rows, args.json, pre)


if __name__ == "__main__":
    main()
