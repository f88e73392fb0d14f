"""Conformal prediction sets calibrated on noisy CIFAR-10N labels: naive vs noise-aware.

Models: the CE runs of ``benchmarks/_cifar10n_runs.py`` (``recipes/cifar10n/worst_small_cnn.yaml``
``[ce]`` through :func:`labelnoise.engine.train`: 2,500 training images with CIFAR-10N
``worst`` labels (40 % noise), width-32 CNN, 20 epochs, seeds 0, 1, 2), plus the ``gce`` and
``coteaching`` runs when present. Calibration: the 2,000 held-out images of each run's
validation split with their noisy ``worst`` labels; test: the 10,000 clean CIFAR-10 test
images. Target coverage 90 % (``alpha = 0.1``) of the *clean* test labels.

Calibrations (scores LAC and randomized APS, :mod:`labelnoise.common.conformal`):

- ``naive``: split conformal on the noisy labels;
- ``nacp T_cj``: Noise-Aware CP (Penso et al., COPA 2025) with ``T`` estimated from the
  calibration set's own predictions and noisy labels by the confident joint
  (:func:`~labelnoise.common.detection.estimate_transition_confident_joint`);
- ``nacp T_anchor``: the same with the anchor-point estimate (Patrini et al., 2017);
- ``nacp eps_cj``: NACP's uniform-noise form, ``epsilon`` from ``T_cj``'s noise rate
  (``epsilon = rate * K / (K - 1)``, uniform class prior);
- ``nacp T_known`` / ``nacp eps_known``: ``T`` counted from the published CIFAR-10N label
  pairs of the 48,000 training images not in the calibration set (a noise model known from
  other data; not the calibration labels' clean truth);
- ``nacp T_cal (oracle)``: ``T`` counted from the calibration images' own clean and noisy
  labels (needs the clean labels: isolates the class-conditional noise assumption from the
  estimation error of ``T``);
- ``control: ...``: the calibration labels redrawn from the clean ones through that same
  ``T_cal`` (class-conditional noise, NACP's assumption; same noise rate), naive and NACP;
- ``clean (oracle)``: split conformal on the calibration images' clean labels (reference).

    python benchmarks/_cifar10n_runs.py --data-dir ../shared/data  # trains the runs once
    python benchmarks/conformal_cifar10n.py --data-dir ../shared/data --json out.json
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from _cifar10n_runs import describe, export, known_transition, load_outputs, run_dir
from _common import data_dir_or_exit, markdown_table, parser, report, row

ALPHA = 0.1


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def noise_models(o: dict[str, np.ndarray], data_dir: Path) -> dict[str, dict[str, Any]]:
    """The noise model of each noise-aware calibration (``transition`` or ``epsilon``)."""
    from labelnoise.common.detection import (
        estimate_transition_anchor,
        estimate_transition_confident_joint,
    )
    from labelnoise.common.transition import TransitionMatrix

    p_cal, noisy = softmax(o["val_logits"]), o["val_noisy"]
    k = p_cal.shape[1]
    t_cj = estimate_transition_confident_joint(noisy, p_cal).numpy()
    t_anchor = estimate_transition_anchor(p_cal).numpy()
    t_known = known_transition(data_dir, o["val_index"])

    def eps(t: np.ndarray) -> float:
        rate = 1.0 - float(np.trace(t)) / k  # uniform class prior
        return min(rate * k / (k - 1), 0.99)

    return {
        "nacp T_cj": {"transition": t_cj},
        "nacp eps_cj": {"epsilon": eps(t_cj)},
        "nacp T_anchor": {"transition": t_anchor},
        "nacp T_known": {"transition": t_known},
        "nacp eps_known": {"epsilon": eps(t_known)},
        "nacp T_cal (oracle)": {
            "transition": TransitionMatrix.from_counts(o["val_clean"], noisy, num_classes=k).numpy()
        },
    }


def evaluate(o: dict[str, np.ndarray], data_dir: Path, seed: int) -> list[dict[str, Any]]:
    """Coverage and set size of every (score, calibration) for one run's outputs."""
    from labelnoise.common.conformal import (
        aps_scores,
        calibrate,
        coverage,
        lac_scores,
        mean_set_size,
        predict_sets,
    )

    p_cal, p_test = softmax(o["val_logits"]), softmax(o["test_logits"])
    models = noise_models(o, data_dir)
    out = []
    for score in ("lac", "aps"):
        if score == "lac":
            s_cal, s_test = lac_scores(p_cal), lac_scores(p_test)
        else:
            s_cal = aps_scores(p_cal, seed=1000 + seed)
            s_test = aps_scores(p_test, seed=2000 + seed)
        cals: dict[str, float] = {"naive": calibrate(s_cal, o["val_noisy"], ALPHA)}
        for name, noise in models.items():
            cals[name] = calibrate(s_cal, o["val_noisy"], ALPHA, **noise)
        cals["clean (oracle)"] = calibrate(s_cal, o["val_clean"], ALPHA)
        # control: labels redrawn from the clean ones through T_cal, i.e. class-conditional
        # noise of the same matrix (what NACP assumes)
        t_cal = models["nacp T_cal (oracle)"]["transition"]
        rng = np.random.default_rng(3000 + seed)
        cum = np.cumsum(t_cal[o["val_clean"]], axis=1)
        redrawn = np.minimum((cum < rng.random((len(cum), 1))).sum(1), t_cal.shape[0] - 1)
        cals["control: naive, class-cond. labels"] = calibrate(s_cal, redrawn, ALPHA)
        cals["control: nacp T_cal, class-cond. labels"] = calibrate(
            s_cal, redrawn, ALPHA, transition=t_cal
        )
        for name, q in cals.items():
            sets = predict_sets(s_test, q)
            noise = models.get(name, {})
            if "epsilon" in noise:  # uniform noise of level eps: rate eps (K - 1) / K
                rate = noise["epsilon"] * (p_cal.shape[1] - 1) / p_cal.shape[1]
            elif "transition" in noise:  # uniform class prior
                rate = 1.0 - float(np.trace(noise["transition"])) / p_cal.shape[1]
            else:
                rate = None
            out.append(
                {
                    "score": score,
                    "calibration": name,
                    "coverage": coverage(sets, o["test_clean"]),
                    "size": mean_set_size(sets),
                    "threshold": q,
                    "noise_rate": rate,
                }
            )
    return out


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=["ce", "gce", "coteaching"])
    a = p.parse_args()
    data_dir = data_dir_or_exit(a)
    t0 = time.time()
    results: list[dict[str, Any]] = []
    provenance = []
    for method in a.methods:
        for seed in a.seeds:
            if not (run_dir(method, seed) / "metrics.json").is_file():
                continue
            export(method, seed, data_dir)
            o = load_outputs(method, seed)
            acc = float((o["test_logits"].argmax(1) == o["test_clean"]).mean())
            noise_cal = float((o["val_noisy"] != o["val_clean"]).mean())
            for r in evaluate(o, data_dir, seed):
                results.append(r | {"method": method, "seed": seed, "acc": acc})
            provenance.append(
                f"- {method} seed {seed}: `{describe(method, seed, 20)}` (clean test acc "
                f"{100 * acc:.2f} %, calibration noise {100 * noise_cal:.1f} %)"
            )
    if not results:
        raise SystemExit("no finished run: run benchmarks/_cifar10n_runs.py first")
    rows, table = [], []
    keys = sorted(
        {(r["method"], r["score"], r["calibration"]) for r in results},
        key=lambda k: (
            ["ce", "gce", "coteaching"].index(k[0]),
            k[1] != "aps",
            [x["calibration"] for x in results].index(k[2]),
        ),
    )
    naive_size = {}
    for method, score, cal in keys:
        rs = [
            r
            for r in results
            if (r["method"], r["score"], r["calibration"]) == (method, score, cal)
        ]
        cov = np.array([r["coverage"] for r in rs])
        size = np.array([r["size"] for r in rs])
        if cal == "naive":
            naive_size[(method, score)] = size.mean()
        meets = abs(cov.mean() - (1 - ALPHA)) <= 0.01 and size.mean() < naive_size.get(
            (method, score), np.inf
        )
        rates = [r["noise_rate"] for r in rs if r["noise_rate"] is not None]
        table.append(
            [
                method,
                score,
                cal,
                len(rs),
                f"{100 * cov.mean():.2f} ± {100 * cov.std():.2f}",
                f"{size.mean():.3f} ± {size.std():.3f}",
                f"{np.mean(rates):.3f}" if rates else "",
                "yes" if meets and cal.startswith("nacp") and "oracle" not in cal else "",
            ]
        )
        for r in rs:
            setting = f"cifar10n worst, {score}, alpha {ALPHA}"
            for metric in ("coverage", "size"):
                rows.append(
                    row(
                        setting,
                        f"{method} {cal}",
                        f"clean_test_{metric}",
                        r[metric],
                        seed=r["seed"],
                    )
                )
    import os

    load = os.getloadavg()[0]
    preamble = (
        f"{__doc__.split(chr(10) + chr(10))[1]}\n\nTarget: clean-label coverage 90 %; mean ± sd "
        f"over seeds; 'target met': coverage within 1 point of 90 % and mean set smaller than "
        "naive. 'noise rate of the model': 1 - trace(T) / K of the calibration's noise model "
        f"(uniform class prior). Wall time {time.time() - t0:.0f} s (load average {load:.1f}), outputs exported "
        "from the runs' selected models.\n\nRuns:\n" + "\n".join(provenance)
    )
    header = [
        "model",
        "score",
        "calibration",
        "seeds",
        "clean coverage %",
        "mean set size",
        "noise rate of the model",
        "target met",
    ]
    report("conformal_cifar10n", markdown_table(header, table), rows, a.json, preamble)


if __name__ == "__main__":
    main()
