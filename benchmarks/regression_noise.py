"""Regression with noisy targets: robust losses, sample selection, ConFrag and refits vs MSE.

Usage: ``python benchmarks/regression_noise.py --data-dir DIR --json OUT [--seeds 5]``

Every number comes from :func:`labelnoise.engine.train` on a RunConfig built from a recipe
file -- ``recipes/regression/diabetes_robust.yaml`` (scikit-learn's diabetes, 442 rows) and
``recipes/regression/friedman_robust.yaml`` (synthetic nonlinear Friedman #1, 20,000 rows
drawn with the seed) -- one of its variants, and overrides: ``seed``, the noise
(``task.noise.kind`` / ``rate`` / ``scale``) and, for small-loss selection, its forget rate
(the noise rate, 0.2 for Gaussian, as in Co-teaching). Each JSON row names its recipe,
variant and overrides.

1. Clean-target test MAE of every variant under symmetric noise (ConFrag's uniform
   replacement) at 20 / 40 / 60 % and Gaussian noise (0.5 target std on every training
   target), ``--seeds`` seeds (split, noise, init -- and the Friedman data -- change with the
   seed). Protocol (in the recipes): 80 / 20 train / test, no validation split, the last
   epoch's model. ``mixture_refit``: a trimmed-MSE pilot network, a clean-Gaussian /
   uniform-noise mixture fitted by EM on its residuals, and an MSE refit weighted by the clean
   posterior (method ``mixture_refit``, pilot ``trimmed``); ``mixture_linear``: the same
   refit with the posterior of a closed-form mixture-EM *linear* regression (pilot
   ``linear``, one network); ``trimmed_refit``: the refit on the 70 % best-fitted targets of
   the trimmed pilot; ``confrag``: ConFrag's experts, selection and a regressor on the
   selected rows. ``clean (oracle)`` is the ``mse`` variant trained on the clean targets
   (``task.noise.kind=none``); ``corrupted dropped (oracle)`` the ``mse`` variant on the
   uncorrupted rows only (``task.noise.drop_corrupted=true``) -- what a perfect selector
   would give.
2. Detection AUPRC on the symmetric settings: our residual, mixture-posterior and
   neighbour-agreement scores and cleanlab's ``get_label_quality_scores`` (outre and
   residual) on the *same* 5-fold out-of-sample predictions of the recipe's ``mse`` variant
   (:class:`labelnoise.tasks.regression.NoisyRegressor`, i.e. the engine; Friedman: a
   3,000-row training subset, because cleanlab's outre builds an N/2-neighbour graph), plus
   the ConFrag run's selection score.
3. Emotion (``DIR/crowd/emotion``, 700 items x 10 raters, gold): the diabetes recipe's
   ``mse`` variant (100 epochs, weight decay 0.01) trained on aggregated rater targets vs on
   one random rater per item, MAE against gold.

Torch runs single-threaded here (``train.num_threads: 1`` in the recipes).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from _common import data_dir_or_exit, markdown_table, parser, report, row
from cleanlab.regression.rank import get_label_quality_scores
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GroupKFold

from labelnoise.common.detection.regression import (
    combined_quality,
    mixture_quality,
    neighbor_agreement_quality,
    residual_quality,
)
from labelnoise.config import load_recipe, resolve
from labelnoise.engine import train
from labelnoise.engine.setup import build_task
from labelnoise.tasks.regression import (
    NoisyRegressor,
    aggregate_raters,
    cross_val_predictions,
    error_residual_ratio,
    mae,
    read_raters,
)

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {
    "diabetes": "recipes/regression/diabetes_robust.yaml",
    "friedman1": "recipes/regression/friedman_robust.yaml",
}
NOISES: dict[str, dict[str, Any]] = {
    "sym20": {"kind": "symmetric", "rate": 0.2},
    "sym40": {"kind": "symmetric", "rate": 0.4},
    "sym60": {"kind": "symmetric", "rate": 0.6},
    "gauss": {"kind": "gaussian", "scale": 0.5},
}
METHODS = [
    "mse",
    "huber",
    "cauchy",
    "trimmed",
    "small_loss",
    "gaussian_nll",
    "confrag",
    "trimmed_refit",
    "mixture_refit",
    "mixture_linear",
    "uplme",
]
ORACLE = "clean (oracle)"
DROP = "corrupted dropped (oracle)"
EMOTION_OVERRIDES = {"train": {"epochs": 100}, "optim": {"weight_decay": 0.01}}


def overrides(method: str, noise: dict[str, Any], seed: int) -> tuple[str, dict[str, Any]]:
    """``(variant, overrides)`` of one table cell."""
    over: dict[str, Any] = {"seed": seed, "task": {"noise": dict(noise)}}
    if method == ORACLE:
        over["task"]["noise"] = {"kind": "none"}
    elif method == DROP:
        over["task"]["noise"]["drop_corrupted"] = True
    elif method == "small_loss":
        rate = noise["rate"] if noise["kind"] == "symmetric" else 0.2
        over["selector"] = {"forget_rate": rate}
    variant = "mse" if method in (ORACLE, DROP) else method
    return variant, over


def run_cell(name: str, method: str, nk: str, seed: int, runs: Path) -> tuple[dict, Path, dict]:
    """Train one cell; returns (metrics, run_dir, row provenance)."""
    variant, over = overrides(method, NOISES[nk], seed)
    run_dir = runs / f"{name}_{nk}_{variant}_{method.split()[0]}_{seed}"
    recipe = load_recipe(ROOT / RECIPES[name])
    full = over | {"output_dir": str(run_dir), "train": {"progress": False}}
    metrics = train(resolve(recipe, full, variant=variant), overwrite=True)
    return metrics, run_dir, {"recipe": RECIPES[name], "variant": variant, "overrides": over}


def robustness(
    seeds: int,
    rows: list,
    det_rows: list,
    datasets: tuple[str, ...],
    noises: tuple[str, ...],
    detect: bool,
    runs: Path,
    mae_cells: bool = True,
    methods: list[str] = METHODS,
) -> tuple[str, str]:
    mae_table: dict[tuple[str, str, str], list[float]] = {}
    err_table: dict[tuple[str, str], list[float]] = {}
    det: dict[tuple[str, str, str], list[float]] = {}
    for name in datasets:
        for seed in range(seeds):
            for nk in noises:
                symmetric = NOISES[nk]["kind"] == "symmetric"
                cells = [*methods, ORACLE] + ([DROP] if symmetric else [])
                cells = cells if mae_cells else []
                for method in cells:
                    metrics, run_dir, prov = run_cell(name, method, nk, seed, runs)
                    v = float(metrics["test"]["mae"])
                    mae_table.setdefault((name, nk, method), []).append(v)
                    where = f"{name}/{nk}/seed{seed}"
                    rows.append(row(where, method, "clean_test_mae", v, **prov))
                    sel_file = run_dir / "confrag_selection.npz"
                    if method == "confrag" and symmetric:
                        with np.load(sel_file) as f:
                            bad = f["target"] != f["clean_target"]
                            e = error_residual_ratio(f["target"], f["clean_target"], f["selected"])
                            ap = average_precision_score(bad, 1 - f["score"])
                        err_table.setdefault((name, nk), []).append(e)
                        rows.append(row(where, method, "ERR", e, **prov))
                        det.setdefault((name, nk, "ConFrag selection score"), []).append(ap)
                if detect and symmetric:
                    detection(name, nk, seed, det)
    head = ["dataset", "noise", *methods, DROP, ORACLE, "best / mse", "drop / mse", "oracle / mse"]
    table = []
    for name, nk in {(k[0], k[1]) for k in mae_table}:
        means = [float(np.mean(mae_table[(name, nk, m)])) for m in methods]
        cells = [
            f"{mu:.3f} ± {np.std(mae_table[(name, nk, m)]):.3f}" for mu, m in zip(means, methods)
        ]
        drop = mae_table.get((name, nk, DROP))
        cells.append(f"{np.mean(drop):.3f} ± {np.std(drop):.3f}" if drop else "-")
        oracle = float(np.mean(mae_table[(name, nk, ORACLE)]))
        cells.append(f"{oracle:.3f} ± {np.std(mae_table[(name, nk, ORACLE)]):.3f}")
        best = min(means[1:])
        table.append(
            [
                name,
                nk,
                *cells,
                f"{best / means[0]:.3f} ({methods[1 + int(np.argmin(means[1:]))]})",
                f"{np.mean(drop) / means[0]:.3f}" if drop else "-",
                f"{oracle / means[0]:.3f}",
            ]
        )
    table.sort(key=lambda r: (r[0], r[1]))
    scores = sorted({k[2] for k in det})
    dtab = []
    for name, nk in sorted({(k[0], k[1]) for k in det}):
        means = [float(np.mean(det[(name, nk, s)])) for s in scores]
        err = float(np.mean(err_table[(name, nk)])) if (name, nk) in err_table else float("nan")
        dtab.append([name, nk, *means, err])
        for s, v in zip(scores, means):
            prov = {"task": {"noise": NOISES[nk]}, "seed": list(range(seeds))}
            det_rows.append(
                row(
                    f"{name}/{nk}",
                    s,
                    "auprc_mean",
                    v,
                    recipe=RECIPES[name],
                    variant="mse",
                    overrides=prov,
                )
            )
    return markdown_table(head, table), markdown_table(
        ["dataset", "noise", *scores, "ConFrag ERR (lower = cleaner selection)"], dtab
    )


def detection(name: str, nk: str, seed: int, det: dict) -> None:
    """AUPRC of each score on the same out-of-sample predictions (the training split of the
    recipe's run at this seed and noise, targets in their own units)."""
    variant, over = overrides("mse", NOISES[nk], seed)
    recipe = load_recipe(ROOT / RECIPES[name])
    splits = build_task(resolve(recipe, over, variant=variant)).splits
    tr = splits.train
    scale, center = splits.info["target_scale"], splits.info["target_center"]
    x = tr.x.double().numpy()
    y = tr.target.double().numpy() * scale + center
    b = (tr.target != tr.clean).numpy()
    if len(y) > 3000:
        keep = np.random.default_rng(seed).choice(len(y), 3000, replace=False)
        x, y, b = x[keep], y[keep], b[keep]
    model = NoisyRegressor(ROOT / RECIPES[name], variant="mse", seed=seed)
    pred = cross_val_predictions(model, x, y, folds=5, seed=seed)
    xs = (x - x.mean(0)) / x.std(0)
    scores = {
        "ours: residual (recalibrated)": residual_quality(y, pred),
        "ours: residual x neighbour": combined_quality(y, pred, xs),
        "ours: mixture posterior": mixture_quality(y, pred),
        "ours: neighbour agreement": neighbor_agreement_quality(y, xs),
        "cleanlab: outre": get_label_quality_scores(y, pred, method="outre"),
        "cleanlab: residual": get_label_quality_scores(y, pred, method="residual"),
    }
    for k, q in scores.items():
        det.setdefault((name, nk, k), []).append(average_precision_score(b, 1 - q))


def emotion(root: Path, seeds: int, rows: list) -> str:
    """Gold emotion scores from crowd features, trained on aggregated vs single-rater targets.

    Items 1-600 are 6 emotions x 100 headlines and 601-700 valence (item q: dimension
    ``(q-1) // 100``, headline ``(q-1) % 100``). Features of an item: its dimension (one-hot)
    and the mean crowd rating of the same headline on the 6 other dimensions (the text is not
    in the data). 5-fold cross-validation grouped by headline; MAE of held-out items vs gold.
    """
    r = read_raters(root / "answer.csv")
    gold = pd.read_csv(root / "truth.csv", dtype={"question": str}).set_index("question")["truth"]
    items = sorted(gold.index, key=int)
    q = np.array([int(i) for i in items])
    dim, head = (q - 1) // 100, (q - 1) % 100
    mean = aggregate_raters(r, method="mean").loc[items].to_numpy()
    grid = np.zeros((100, 7))
    grid[head, dim] = mean / 100
    x = np.concatenate([np.eye(7)[dim], grid[head] * (1 - np.eye(7)[dim])], axis=1)
    y_gold = gold.loc[items].to_numpy(dtype=float)
    targets = {
        m: aggregate_raters(r, method=m).loc[items].to_numpy() for m in ("mean", "median", "catd")
    }
    out = []
    for m, t in targets.items():
        out.append([f"aggregated ({m}), no model", mae(t, y_gold), 0.0])
    prov = {"recipe": RECIPES["diabetes"], "variant": "mse", "overrides": EMOTION_OVERRIDES}
    for arm in ["mean", "median", "catd", "single random rater"]:
        vals = []
        for seed in range(seeds):
            if arm == "single random rater":
                pick = r.sample(frac=1.0, random_state=seed).drop_duplicates("item")
                t = pick.set_index("item")["value"].loc[items].to_numpy()
            else:
                t = targets[arm]
            pred = np.empty(len(items))
            for trn, tst in GroupKFold(5).split(x, groups=head):
                model = NoisyRegressor(
                    ROOT / RECIPES["diabetes"],
                    variant="mse",
                    overrides=EMOTION_OVERRIDES,
                    seed=seed,
                )
                pred[tst] = model.fit(x[trn], t[trn]).predict(x[tst])
            vals.append(mae(pred, y_gold))
            rows.append(
                row(f"emotion/seed{seed}", f"train on {arm}", "mae_vs_gold", vals[-1], **prov)
            )
        out.append([f"MLP trained on {arm}", float(np.mean(vals)), float(np.std(vals))])
    return markdown_table(["targets", "MAE vs gold (mean)", "std over seeds"], out)


def main() -> None:
    p = parser("Regression with noisy targets: methods vs MSE, detection, emotion raters")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--datasets", default="diabetes,friedman1")
    p.add_argument("--noises", default=",".join(NOISES), help=f"of {sorted(NOISES)}")
    p.add_argument("--mae-only", action="store_true", help="skip detection and emotion")
    p.add_argument(
        "--detection-only", action="store_true", help="only the detection AUPRC (no MAE table)"
    )
    p.add_argument(
        "--methods", default=",".join(METHODS), help="table columns (mse first), of METHODS"
    )
    p.add_argument("--tag", default="", help="results file suffix: regression_noise_<tag>.md")
    args = p.parse_args()
    datasets, noises = tuple(args.datasets.split(",")), tuple(args.noises.split(","))
    methods = args.methods.split(",")
    if methods[0] != "mse" or len(methods) < 2 or not set(methods) <= set(METHODS):
        p.error(f"--methods must start with mse, name another, and be of {METHODS}")
    if not set(datasets) <= set(RECIPES) or not set(noises) <= set(NOISES):
        p.error(f"--datasets must be of {sorted(RECIPES)} and --noises of {sorted(NOISES)}")
    root = data_dir_or_exit(args)
    torch.set_num_threads(1)
    t0, load0 = time.time(), os.getloadavg()[0]
    rows: list = []
    det_rows: list = []
    with tempfile.TemporaryDirectory(prefix="regression_noise_") as runs:
        rob, det = robustness(
            args.seeds,
            rows,
            det_rows,
            datasets,
            noises,
            not args.mae_only,
            Path(runs),
            mae_cells=not args.detection_only,
            methods=methods,
        )
        table = "## Clean-target test MAE (mean ± std over seeds)\n\n" + rob
        if args.detection_only:
            table = "## Detection AUPRC (same out-of-sample predictions)\n\n" + det
        elif not args.mae_only:
            emo = emotion(root / "crowd" / "emotion", args.seeds, rows)
            table += (
                "\n\n## Detection AUPRC (same out-of-sample predictions)\n\n"
                + det
                + "\n\n## Emotion: aggregated vs single-rater targets\n\n"
                + emo
            )
    wall = time.time() - t0
    rows += det_rows
    load = (load0 + os.getloadavg()[0]) / 2
    rows.append(row("all", "benchmark", "wall_time_s", wall, load_average=load))
    rows.append(row("all", "benchmark", "cpu_time_s", time.process_time()))
    table += (
        f"\n\nwall time {wall:.0f} s, CPU time {time.process_time():.0f} s "
        + f"({args.seeds} seeds, torch threads 1, load average ~{load:.1f} on a shared machine)"
        + "\n\nRecipes: "
        + ", ".join(f"`{RECIPES[d]}`" for d in datasets)
        + "; overrides per cell (seed, noise, small-loss forget rate) in the JSON rows."
    )
    name = "regression_noise" + (f"_{args.tag}" if args.tag else "")
    report(name, table, rows, args.json, preamble=__doc__.split("\n\n")[0])
    print(json.dumps({"rows": len(rows)}))


if __name__ == "__main__":
    main()
