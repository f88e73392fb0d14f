"""Regression with noisy targets: robust losses, sample selection, ConFrag and refits vs MSE.

Usage: ``python benchmarks/regression_noise.py --data-dir DIR --json OUT [--seeds 5]``

1. Clean-target test MAE of every method on scikit-learn's diabetes (442 rows) and a
   synthetic nonlinear set (Friedman #1, 20,000 rows), under symmetric noise (ConFrag's
   uniform replacement) at 20 / 40 / 60 % and Gaussian noise (0.5 target std on every
   training target), ``--seeds`` seeds (split, noise and init all change with the seed).
   Small-loss selection is told the noise rate (0.2 for Gaussian), as in Co-teaching;
   every other method is noise-rate agnostic. ``mixture_refit``: a trimmed-MSE fit, a
   clean-Gaussian / uniform-noise mixture fitted by EM on its residuals, and an MSE refit
   weighted by the clean posterior (same network and epochs; two training runs).
   ``mixture_refit_linear``: the same refit with the posterior of a mixture-EM *linear*
   regression on the features (no first network; one training run). Every setting of both
   is a default, the same on both datasets.
   ``clean (oracle)`` is MSE trained on the clean targets: the floor no method can be
   expected to beat (not counted as "best"); ``corrupted dropped (oracle)`` is MSE on the
   uncorrupted rows only -- what a perfect clean-sample selector would give.
2. Detection AUPRC on the symmetric settings: our residual, mixture-posterior and
   neighbour-agreement scores (settings fixed on other synthetic sets: Friedman #2 / #3 and a
   heteroscedastic one, 442 rows, seeds 100-104) and cleanlab's ``get_label_quality_scores``
   (outre and residual) on the *same* 5-fold out-of-sample MLP predictions (Friedman: a 3,000-row training subset, because cleanlab's
   outre builds an N/2-neighbour graph), plus the ConFrag selection score.
3. Emotion (``DIR/crowd/emotion``, 700 items x 10 raters, gold): a model trained on
   aggregated rater targets vs on one random rater per item, MAE against gold.

Torch runs single-threaded here: the MLPs are tiny and one thread is fastest for them.
"""

from __future__ import annotations

import time
from pathlib import Path

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
from labelnoise.tasks.regression import (
    ConFragConfig,
    RegressionNoiseConfig,
    TrainConfig,
    aggregate_raters,
    corrupt_targets,
    cross_val_predictions,
    error_residual_ratio,
    fit_confrag,
    fit_mixture_refit,
    fit_mlp,
    load_sklearn,
    mae,
    read_raters,
)

NOISES = {
    "sym20": RegressionNoiseConfig("symmetric", 0.2),
    "sym40": RegressionNoiseConfig("symmetric", 0.4),
    "sym60": RegressionNoiseConfig("symmetric", 0.6),
    "gauss": RegressionNoiseConfig("gaussian", 0.0, 0.5),
}
METHODS = [
    "mse",
    "huber",
    "cauchy",
    "trimmed",
    "small_loss",
    "gaussian_nll",
    "confrag",
    "mixture_refit",
    "mixture_refit_linear",
]
ORACLE = "clean (oracle)"
DROP = "corrupted dropped (oracle)"
TRAIN = {
    "diabetes": TrainConfig(hidden=(32,), epochs=40, batch_size=64, weight_decay=0.1),
    "friedman1": TrainConfig(hidden=(64, 64), epochs=20, batch_size=512),
}
CONFRAG = {
    "diabetes": ConFragConfig(epochs=60, batch_size=64),
    "friedman1": ConFragConfig(epochs=10, batch_size=512),
}


class _Fit:
    """``fit(x, y) -> model with predict``: the MSE MLP, for cross-validated predictions."""

    def __init__(self, cfg: TrainConfig, seed: int) -> None:
        self.cfg, self.seed = cfg, seed

    def fit(self, x: np.ndarray, y: np.ndarray):
        return fit_mlp(x, y, config=self.cfg, seed=self.seed)


def run_method(method, name, x, y, noise, seed):
    """Train ``method``; returns (model, extra metrics)."""
    cfg = TRAIN[name]
    if method == "confrag":
        model, sel = fit_confrag(x, y, config=CONFRAG[name], train_config=cfg, seed=seed)
        return model, sel
    if method == "mixture_refit":
        return fit_mixture_refit(x, y, trim=0.3, config=cfg, seed=seed)[0], None
    if method == "mixture_refit_linear":
        return fit_mixture_refit(x, y, pilot="linear", config=cfg, seed=seed)[0], None
    loss, opts, forget = {
        "mse": ("mse", {}, 0.0),
        "huber": ("huber", {"delta": 1.0}, 0.0),
        "cauchy": ("cauchy", {"c": 1.0}, 0.0),
        "trimmed": ("trimmed_mse", {"trim": 0.3}, 0.0),
        "small_loss": ("mse", {}, noise.rate if noise.kind == "symmetric" else 0.2),
        "gaussian_nll": ("gaussian_nll", {}, 0.0),
    }[method]
    return fit_mlp(
        x, y, loss=loss, loss_options=opts, forget_rate=forget, config=cfg, seed=seed
    ), None


def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    n_test = n // 5
    return perm[n_test:], perm[:n_test]


def robustness(
    seeds: int,
    rows: list,
    det_rows: list,
    datasets: tuple[str, ...] = ("diabetes", "friedman1"),
    noises: tuple[str, ...] = tuple(NOISES),
    detect: bool = True,
) -> tuple[str, str]:
    mae_table: dict[tuple[str, str, str], list[float]] = {}
    err_table: dict[tuple[str, str], list[float]] = {}
    det: dict[tuple[str, str, str], list[float]] = {}
    for name in datasets:
        for seed in range(seeds):
            data = load_sklearn(name, n_samples=20000, seed=seed)
            tr, te = split(len(data.y), seed)
            for nk in noises:
                noise = NOISES[nk]
                y_noisy, bad = corrupt_targets(data.y[tr], noise, seed)
                for method in METHODS:
                    model, sel = run_method(method, name, data.x[tr], y_noisy, noise, seed)
                    v = mae(model.predict(data.x[te]), data.y[te])
                    mae_table.setdefault((name, nk, method), []).append(v)
                    rows.append(row(f"{name}/{nk}/seed{seed}", method, "clean_test_mae", v))
                    if sel is not None and noise.kind == "symmetric":
                        e = error_residual_ratio(y_noisy, data.y[tr], sel.selected)
                        err_table.setdefault((name, nk), []).append(e)
                        rows.append(row(f"{name}/{nk}/seed{seed}", method, "ERR", e))
                        ap = average_precision_score(bad, 1 - sel.score)
                        det.setdefault((name, nk, "ConFrag selection score"), []).append(ap)
                oracle = fit_mlp(data.x[tr], data.y[tr], config=TRAIN[name], seed=seed)
                v = mae(oracle.predict(data.x[te]), data.y[te])
                mae_table.setdefault((name, nk, ORACLE), []).append(v)
                rows.append(row(f"{name}/{nk}/seed{seed}", ORACLE, "clean_test_mae", v))
                if noise.kind == "symmetric":  # perfect selection: the corrupted rows removed
                    keep = ~bad
                    drop = fit_mlp(data.x[tr][keep], y_noisy[keep], config=TRAIN[name], seed=seed)
                    v = mae(drop.predict(data.x[te]), data.y[te])
                    mae_table.setdefault((name, nk, DROP), []).append(v)
                    rows.append(row(f"{name}/{nk}/seed{seed}", DROP, "clean_test_mae", v))
                if detect and noise.kind == "symmetric":
                    detection(name, data, tr, y_noisy, bad, nk, seed, det)
    head = ["dataset", "noise", *METHODS, DROP, ORACLE, "best / mse", "drop / mse", "oracle / mse"]
    table = []
    for name, nk in {(k[0], k[1]) for k in mae_table}:
        means = [float(np.mean(mae_table[(name, nk, m)])) for m in METHODS]
        cells = [
            f"{mu:.3f} ± {np.std(mae_table[(name, nk, m)]):.3f}" for mu, m in zip(means, METHODS)
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
                f"{best / means[0]:.3f} ({METHODS[1 + int(np.argmin(means[1:]))]})",
                f"{np.mean(drop) / means[0]:.3f}" if drop else "-",
                f"{oracle / means[0]:.3f}",
            ]
        )
    table.sort(key=lambda r: (r[0], r[1]))
    scores = sorted({k[2] for k in det})
    dtab = []
    for name, nk in sorted({(k[0], k[1]) for k in det}):
        means = [float(np.mean(det[(name, nk, s)])) for s in scores]
        err = float(np.mean(err_table[(name, nk)]))
        dtab.append([name, nk, *means, err])
        for s, v in zip(scores, means):
            det_rows.append(row(f"{name}/{nk}", s, "auprc_mean", v))
    return markdown_table(head, table), markdown_table(
        ["dataset", "noise", *scores, "ConFrag ERR (lower = cleaner selection)"], dtab
    )


def detection(name, data, tr, y_noisy, bad, nk, seed, det):
    """AUPRC of each score on the same out-of-sample predictions."""
    x, y, b = data.x[tr], y_noisy, bad
    if len(y) > 3000:
        keep = np.random.default_rng(seed).choice(len(y), 3000, replace=False)
        x, y, b = x[keep], y[keep], b[keep]
    pred = cross_val_predictions(_Fit(TRAIN[name], seed), x, y, folds=5, seed=seed)
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
    cfg = TrainConfig(hidden=(32,), epochs=100, batch_size=64, weight_decay=0.01)
    targets = {
        m: aggregate_raters(r, method=m).loc[items].to_numpy() for m in ("mean", "median", "catd")
    }
    out = []
    for m, t in targets.items():
        out.append([f"aggregated ({m}), no model", mae(t, y_gold), 0.0])
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
                pred[tst] = fit_mlp(x[trn], t[trn], config=cfg, seed=seed).predict(x[tst])
            vals.append(mae(pred, y_gold))
            rows.append(row(f"emotion/seed{seed}", f"train on {arm}", "mae_vs_gold", vals[-1]))
        out.append([f"MLP trained on {arm}", float(np.mean(vals)), float(np.std(vals))])
    return markdown_table(["targets", "MAE vs gold (mean)", "std over seeds"], out)


def main() -> None:
    p = parser("Regression with noisy targets: methods vs MSE, detection, emotion raters")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--datasets", default="diabetes,friedman1")
    p.add_argument("--noises", default=",".join(NOISES), help=f"of {sorted(NOISES)}")
    p.add_argument("--mae-only", action="store_true", help="skip detection and emotion")
    p.add_argument("--tag", default="", help="results file suffix: regression_noise_<tag>.md")
    args = p.parse_args()
    datasets, noises = tuple(args.datasets.split(",")), tuple(args.noises.split(","))
    if not set(datasets) <= set(TRAIN) or not set(noises) <= set(NOISES):
        p.error(f"--datasets must be of {sorted(TRAIN)} and --noises of {sorted(NOISES)}")
    root = data_dir_or_exit(args)
    torch.set_num_threads(1)
    t0 = time.time()
    rows: list = []
    det_rows: list = []
    rob, det = robustness(args.seeds, rows, det_rows, datasets, noises, not args.mae_only)
    table = "## Clean-target test MAE (mean ± std over seeds)\n\n" + rob
    if not args.mae_only:
        emo = emotion(root / "crowd" / "emotion", args.seeds, rows)
        table += (
            "\n\n## Detection AUPRC (same out-of-sample predictions)\n\n"
            + det
            + "\n\n## Emotion: aggregated vs single-rater targets\n\n"
            + emo
        )
    wall = time.time() - t0
    rows += det_rows
    rows.append(row("all", "benchmark", "wall_time_s", wall))
    rows.append(row("all", "benchmark", "cpu_time_s", time.process_time()))
    table += (
        f"\n\nwall time {wall:.0f} s, CPU time {time.process_time():.0f} s "
        + f"({args.seeds} seeds, torch threads 1)"
    )
    name = "regression_noise" + (f"_{args.tag}" if args.tag else "")
    report(name, table, rows, args.json, preamble=__doc__.split("\n\n")[0])


if __name__ == "__main__":
    main()
