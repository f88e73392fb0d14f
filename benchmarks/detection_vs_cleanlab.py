"""Label-issue detection: labelnoise vs cleanlab 2.9 -- every function pair, same answers, time.

For each (ours, cleanlab) pair of ``benchmarks/_cleanlab_pairs.py``: whether the outputs are
the same on ``--cases`` random small inputs (K = 2, 3, 10, 100, a class with no example and
one with 2, tied probabilities), and the time of ours / cleanlab's, interleaved (ours,
cleanlab, ours, ...) and the minimum process CPU time (and wall time) of ``--reps`` runs each, on

* classification: N = 1M, K = 10 and N = 200k, K = 100 synthetic out-of-sample probabilities
  (float32, 20 % uniform label noise);
* multi-label: ``--ml-sizes`` (lists of class ids, 8 % flips per class);
* segmentation: ``--seg-size`` images (n x K x H x W), token classification: ``--tok-size``
  sentences, regression: outre at ``--outre-n`` (cleanlab builds an N x N/2 neighbour
  matrix) and residual at 1M, kNN outlier scores of features at ``--feature-sizes``,
  CleanLearning(GaussianNB) at ``--cl-size``;
* peak memory (``tracemalloc``: numpy's allocations) of the segmentation and multi-label
  issue finders, ours and cleanlab's, on the timed inputs.

``--seg-stream-images N`` also runs the earlier streamed-segmentation comparison (peak RSS of
``find_label_issues_streaming`` over N images of 250 x 250 in a fresh process). The load
average is printed next to the table: the machine is shared, times are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, parser, report, row  # noqa: E402

H = W = 250
K_SEG = 10
POOL = 8
CHUNK = 2


def classification_data(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)).astype(np.float32)
    logits[np.arange(n), true] += 3.0
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    labels = true.copy()
    flip = rng.random(n) < 0.2
    labels[flip] = rng.integers(0, k, int(flip.sum()))
    return labels, p


def _pool(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K_SEG, (POOL, H, W))
    logits = rng.standard_normal(size=(POOL, K_SEG, H, W), dtype=np.float32)
    np.put_along_axis(logits, y[:, None], np.take_along_axis(logits, y[:, None], 1) + 2.0, 1)
    p = np.exp(logits, out=logits)
    p /= p.sum(axis=1, keepdims=True)
    noisy = y.copy()
    flip = rng.random(y.shape) < 0.1
    noisy[flip] = rng.integers(0, K_SEG, int(flip.sum()))
    return noisy, p


def image_chunks(n_images: int):
    """A generator function: chunks of ``CHUNK`` images cycling through a pool of ``POOL``."""
    labels, probs = _pool()

    def gen():
        for s in range(0, n_images, CHUNK):
            idx = [(s + i) % POOL for i in range(min(CHUNK, n_images - s))]
            yield labels[idx], probs[idx]

    return gen


def _rss_mb() -> float:
    """Peak RSS of this process so far (``ru_maxrss``, KiB on Linux) in MiB.

    ``ru_maxrss`` carries the parent's peak across fork + exec, so the children are started
    before the parent imports or allocates anything large (the parent is ~30 MB then).
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seg_child(which: str, n_images: int, out: str) -> None:
    """Run one segmentation detector in this (fresh) process and dump time, RSS and mask."""
    if which == "ours":
        import torch

        from labelnoise.common.detection import find_label_issues_streaming

        torch.set_num_threads(1)

        gen = image_chunks(n_images)
        base = _rss_mb()
        t = time.perf_counter()
        res = find_label_issues_streaming(gen, K_SEG, keep_unit_quality=False)
        secs = time.perf_counter() - t
        mask = res.is_issue.reshape(n_images, H, W)
    else:
        from cleanlab.segmentation.filter import find_label_issues

        chunks = list(image_chunks(n_images)())
        labels = np.concatenate([c[0] for c in chunks])
        probs = np.concatenate([c[1] for c in chunks])
        del chunks
        base = _rss_mb()
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mask = find_label_issues(labels, probs, verbose=False)
        secs = time.perf_counter() - t
    np.save(out + ".npy", np.packbits(mask))
    Path(out).write_text(json.dumps({"seconds": secs, "peak_mb": _rss_mb(), "base_mb": base}))


def _run_child(which: str, n_images: int, tmp: Path) -> dict:
    out = str(tmp / f"seg_{which}_{n_images}.json")
    cmd = [sys.executable, __file__, "--seg-child", which, str(n_images), out]
    subprocess.run(cmd, check=True)
    res = json.loads(Path(out).read_text())
    res["mask"] = np.unpackbits(np.load(out + ".npy"))[: n_images * H * W].astype(bool)
    return res


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def small_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random small classification case: K in {2, 3, 10, 100}, maybe a class with no
    example and one with 2, maybe tied (rounded) probabilities."""
    k = int(rng.choice([2, 3, 10, 100]))
    n = int(rng.integers(300, 3000)) if k < 100 else 3000
    true = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), true] += 2.5
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    labels = np.where(rng.random(n) < 0.2, rng.integers(0, k, n), true)
    if k >= 3 and rng.random() < 0.5:
        labels[labels == k - 1] = 0
        labels[labels == k - 2] = 1
        labels[:2] = k - 2
    if rng.random() < 0.3:
        p = np.round(p * 20) + 1e-3
        p /= p.sum(axis=1, keepdims=True)
    return labels, p


def multilabel_data(n: int, k: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    truth = rng.random((n, k)) < 0.3
    p = np.clip(truth * 0.6 + rng.random((n, k)) * 0.5, 0, 1)
    noisy = truth ^ (rng.random((n, k)) < 0.08)
    return {"y": [np.flatnonzero(r).tolist() for r in noisy], "p": p}


def segmentation_data(n: int, k: int, hw: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, (n, hw, hw))
    logits = rng.normal(size=(n, k, hw, hw)).astype(np.float32)
    np.put_along_axis(logits, y[:, None], np.take_along_axis(logits, y[:, None], 1) + 1.5, 1)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    return {"y": np.where(rng.random(y.shape) < 0.2, rng.integers(0, k, y.shape), y), "p": p}


def token_data(n: int, k: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    labels, probs = [], []
    for t in rng.integers(1, 30, n):
        y = rng.integers(0, k, t)
        logits = rng.normal(size=(t, k))
        logits[np.arange(t), y] += 2
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        labels.append(np.where(rng.random(t) < 0.15, rng.integers(0, k, t), y).tolist())
        probs.append(p)
    return {"y": labels, "p": probs}


def regression_data(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n) * 3
    pred = y + rng.normal(size=n) * 0.4
    pred[: n // 10] += rng.choice([-4.0, 4.0], n // 10)
    return {"y": y, "p": pred}


def feature_data(n: int, m: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, m))
    x[1] = x[0]  # an exact duplicate
    return {"x": x}


def clean_learning_data(n: int, k: int, seed: int = 0) -> dict:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=n, n_features=20, n_informative=10, n_classes=k, random_state=seed
    )
    rng = np.random.default_rng(seed)
    flip = rng.random(n) < 0.2
    y[flip] = rng.integers(0, k, int(flip.sum()))
    return {"x": x, "y": y}


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (cleanlab's filter runs
    ``multiprocessing`` workers on all cores by default; their time counts too)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _time(pair, d: dict, reps: int) -> tuple[float, float, float, float, bool]:
    """``(ours CPU s, cleanlab CPU s, ours wall s, cleanlab wall s, same)``: the minimum over
    ``reps`` interleaved runs (one run each when cleanlab's takes over 20 s) of the CPU time
    (:func:`_cpu`: the work done, not the wait for a core on the shared machine) and of the
    wall time; each call does the full work from its inputs (nothing is cached between
    calls)."""
    c_ours, c_ref, w_ours, w_ref = [], [], [], []
    for _ in range(reps):
        w, c = time.perf_counter(), _cpu()
        a = pair[1](d)
        c_ours.append(_cpu() - c)
        w_ours.append(time.perf_counter() - w)
        w, c = time.perf_counter(), _cpu()
        b = pair[2](d)
        c_ref.append(_cpu() - c)
        w_ref.append(time.perf_counter() - w)
        if w_ref[-1] > 20:  # slow cleanlab calls are timed once
            break
    return min(c_ours), min(c_ref), min(w_ours), min(w_ref), bool(pair[3](a, b))


def _agree(pair, cases: list[dict]) -> str:
    """``same/compared``; a case cleanlab refuses (e.g. sklearn's log loss with a class that
    has no label) is counted apart, and then ours must not fail either."""
    ok = refused = 0
    for d in cases:
        try:
            b = pair[2](d)
        except Exception:  # noqa: BLE001 - any refusal by the reference
            refused += 1
            pair[1](d)
            continue
        ok += bool(pair[3](pair[1](d), b))
    n = len(cases) - refused
    return f"{ok}/{n}" + (f" ({refused} refused by cleanlab)" if refused else "")


def _peak_mb(fn) -> float:
    import tracemalloc

    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    p = parser(__doc__.splitlines()[0], needs_data=False)
    p.add_argument("--sizes", default="1000000x10,200000x100", help="NxK,NxK classification")
    p.add_argument("--ml-sizes", default="200000x10,50000x100", help="NxK multi-label")
    p.add_argument("--seg-size", default="20x10x128", help="images x K x side")
    p.add_argument("--tok-size", default="20000x10", help="sentences x K")
    p.add_argument("--outre-n", type=int, default=4000)
    p.add_argument("--feature-sizes", default="20000x16,200000x2", help="NxM features")
    p.add_argument("--cl-size", default="50000x10", help="NxK CleanLearning")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--cases", type=int, default=12, help="random small cases per pair")
    p.add_argument("--only", default="", help="comma-separated groups to run (default all)")
    p.add_argument("--results-name", default="detection_vs_cleanlab", help="results/<name>.md")
    p.add_argument("--seg-stream-images", type=int, default=0)
    p.add_argument("--cleanlab-seg-images", type=int, default=20)
    p.add_argument("--seg-child", nargs=3, metavar=("WHICH", "N", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.seg_child:
        seg_child(args.seg_child[0], int(args.seg_child[1]), args.seg_child[2])
        return
    import tempfile

    import _cleanlab_pairs as cp
    import torch

    torch.set_num_threads(1)  # one thread each: numpy (cleanlab) runs on one core too
    load_start = os.getloadavg()

    groups = set(args.only.split(",")) if args.only else None
    header = ["function", "setting", "same output (random cases)", "same at size"]
    header += ["labelnoise CPU s", "cleanlab CPU s", "CPU time ratio", "wall time ratio"]
    table: list[list] = []
    rows: list[dict] = []
    mem_rows: list[list] = []

    def run(group: str, pairs, cases: list[dict], sized: list[tuple[str, dict]]) -> None:
        if groups is not None and group not in groups:
            return
        for pair in pairs:
            agree = _agree(pair, cases) if cases else "-"
            for setting, d in sized:
                t_o, t_r, w_o, w_r, ok = _time(pair, d, args.reps)
                table.append([pair[0], setting, agree, ok, t_o, t_r, t_o / t_r, w_o / w_r])
                rows.append(row(f"{pair[0]} {setting}", "labelnoise", "cpu_seconds", t_o))
                rows.append(row(f"{pair[0]} {setting}", "cleanlab", "cpu_seconds", t_r))
                rows.append(row(f"{pair[0]} {setting}", "labelnoise", "wall_seconds", w_o))
                rows.append(row(f"{pair[0]} {setting}", "cleanlab", "wall_seconds", w_r))
                rows.append(
                    row(
                        f"{pair[0]} {setting}",
                        "labelnoise/cleanlab",
                        "time_ratio",
                        t_o / t_r,
                        same_at_size=ok,
                        same_random=agree,
                        wall_ratio=w_o / w_r,
                    )
                )
                print(" | ".join(str(v) for v in table[-1]), flush=True)

    rng = np.random.default_rng(0)
    if groups is None or "classification" in groups:
        small = [cp.classification_data(*small_case(rng)) for _ in range(args.cases)]
        for spec in args.sizes.split(","):
            n, k = (int(v) for v in spec.split("x"))
            d = cp.classification_data(*classification_data(n, k))
            run("classification", cp.classification_pairs(), small, [(f"N={n:,} K={k}", d)])
            small = []  # the random cases are checked once
            del d
    small_ml = [
        multilabel_data(int(rng.integers(200, 2000)), k, s)
        for s, k in enumerate([2, 3, 10, 10, 3, 100][: max(1, args.cases // 2)])
    ]
    for i, spec in enumerate(args.ml_sizes.split(",")):
        n, k = (int(v) for v in spec.split("x"))
        ml = multilabel_data(n, k)
        run(
            "multilabel",
            cp.multilabel_pairs(),
            small_ml if i == 0 else [],
            [(f"N={n:,} K={k}", ml)],
        )
        if groups is None or "multilabel" in groups:
            import cleanlab.filter as cf

            from labelnoise.common.detection import find_label_issues

            ours = _peak_mb(lambda: find_label_issues(ml["y"], ml["p"], multi_label=True))  # noqa: B023
            ref = _peak_mb(
                lambda: cp.quiet(lambda: cf.find_label_issues(ml["y"], ml["p"], multi_label=True))  # noqa: B023
            )
            mem_rows.append([f"multi-label find_label_issues N={n:,} K={k}", ours, ref, ours / ref])
    n_img, k_seg, hw = (int(v) for v in args.seg_size.split("x"))
    seg_d = segmentation_data(n_img, k_seg, hw)
    small_seg = [segmentation_data(3, k, 16, s) for s, k in enumerate([2, 3, 10])]
    run(
        "segmentation",
        cp.segmentation_pairs(),
        small_seg,
        [(f"{n_img} x {hw}x{hw}, K={k_seg}", seg_d)],
    )
    if groups is None or "segmentation" in groups:
        import cleanlab.segmentation.filter as sf

        from labelnoise.common.detection import find_segmentation_issues

        ours = _peak_mb(lambda: find_segmentation_issues(seg_d["y"], seg_d["p"]))
        ref = _peak_mb(
            lambda: cp.quiet(lambda: sf.find_label_issues(seg_d["y"], seg_d["p"], verbose=False))
        )
        mem_rows.append(
            [f"segmentation find_label_issues {n_img} x {hw}x{hw} K={k_seg}", ours, ref, ours / ref]
        )
    n_tok, k_tok = (int(v) for v in args.tok_size.split("x"))
    small_tok = [token_data(300, k, s) for s, k in enumerate([2, 3, 10])]
    run(
        "token",
        cp.token_pairs(),
        small_tok,
        [(f"{n_tok:,} sentences, K={k_tok}", token_data(n_tok, k_tok))],
    )
    small_reg = [regression_data(int(n), s) for s, n in enumerate([2, 7, 100, 101, 900])]
    run(
        "regression",
        cp.regression_pairs()[:1],
        small_reg,
        [(f"N={args.outre_n:,}", regression_data(args.outre_n))],
    )
    run(
        "regression",
        cp.regression_pairs()[1:],
        small_reg,
        [("N=1,000,000", regression_data(10**6))],
    )
    small_x = [
        feature_data(int(n), m, s)
        for s, (n, m) in enumerate([(50, 2), (300, 3), (500, 8), (80, 20)])
    ]
    sized = []
    for spec in args.feature_sizes.split(","):
        n, m = (int(v) for v in spec.split("x"))
        sized.append((f"N={n:,} M={m} ({'cosine' if m > 3 else 'euclidean'})", feature_data(n, m)))
    run("features", cp.feature_outlier_pairs(), small_x, sized)
    n_cl, k_cl = (int(v) for v in args.cl_size.split("x"))
    small_cl = [clean_learning_data(300, k, s) for s, k in enumerate([2, 3, 4])]
    run(
        "clean_learning",
        cp.clean_learning_pairs(),
        small_cl,
        [(f"N={n_cl:,} K={k_cl}, 5 folds", clean_learning_data(n_cl, k_cl))],
    )

    text = markdown_table(header, table)
    if mem_rows:
        text += (
            "\n\nPeak memory (tracemalloc, MiB of numpy/Python allocations during the call):\n\n"
        )
        text += markdown_table(["call", "labelnoise MiB", "cleanlab MiB", "ratio"], mem_rows)
        for m in mem_rows:
            rows.append(row(m[0], "labelnoise", "peak_mib", m[1]))
            rows.append(row(m[0], "cleanlab", "peak_mib", m[2]))
    if args.seg_stream_images:
        m = args.cleanlab_seg_images
        with tempfile.TemporaryDirectory() as tmp:
            seg = _run_child("ours", args.seg_stream_images, Path(tmp))
            seg_ref = _run_child("cleanlab", m, Path(tmp))
        scale = args.seg_stream_images / m
        text += "\n\nStreamed segmentation (fresh processes, peak RSS):\n\n" + markdown_table(
            ["process", "images", "seconds", "peak RSS MB", "RSS before the call MB"],
            [
                [
                    "labelnoise find_label_issues_streaming",
                    args.seg_stream_images,
                    seg["seconds"],
                    seg["peak_mb"],
                    seg["base_mb"],
                ],
                [
                    "cleanlab segmentation.filter.find_label_issues",
                    m,
                    seg_ref["seconds"],
                    seg_ref["peak_mb"],
                    seg_ref["base_mb"],
                ],
            ],
        )
        text += f"\n\ntime ratio at equal size: {seg['seconds'] / (seg_ref['seconds'] * scale):.4g}"
    load = os.getloadavg()
    pre = (
        f"Load average at the start: {load_start[0]:.1f} / {load_start[1]:.1f} / "
        f"{load_start[2]:.1f}, at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        f"(1 / 5 / 15 min) on {os.cpu_count()} cores. `python benchmarks/detection_vs_cleanlab.py "
        + " ".join(sys.argv[1:])
        + "`\n\nTimes: the minimum over `--reps` interleaved runs (ours, cleanlab's, ours, ...; "
        "one run when cleanlab's takes over 20 s) of the CPU time (`getrusage` of the process "
        "and of its finished children: cleanlab's filter runs multiprocessing workers), one "
        "thread each (`torch.set_num_threads(1)`, `OMP_NUM_THREADS=1`); the wall-time ratio (minimum wall "
        "times) is shown beside it. Every call does the full work from its inputs."
    )
    report(args.results_name, text, rows, args.json, preamble=pre)


if __name__ == "__main__":
    main()
