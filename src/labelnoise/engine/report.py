"""Run reports: ``report.html`` with PNG plots (matplotlib, Agg backend), and recipe summaries.

Plots of one run directory (each only when its inputs exist):

- ``curves.png``: training loss and the evaluation metrics per epoch (history.jsonl);
- ``loss_hist.png``: last-epoch training loss of clean vs corrupted examples (dynamics.npz);
- ``transitions.png``: realised and estimated transition matrices ``T[clean, noisy]``;
- ``detection_pr.png``: precision-recall curve of finding corrupted labels by low quality.
"""

from __future__ import annotations

import csv
import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from labelnoise._io import atomic_write

__all__ = ["summary_table", "write_report", "write_summary"]


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=90, bbox_inches="tight")
    _figure().close(fig)


def _read_history(run_dir: Path) -> list[dict[str, Any]]:
    p = run_dir / "history.jsonl"
    if not p.is_file():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def _plot_curves(history: list[dict[str, Any]], path: Path) -> bool:
    if not history:
        return False
    plt = _figure()
    epochs = [r["epoch"] for r in history]
    metric_keys = [k for k in history[0] if k.startswith(("val_", "test_"))]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    axes[0].plot(epochs, [r["train_loss"] for r in history], marker="o")
    axes[0].set(title="training loss (weighted, noisy labels)", xlabel="epoch")
    for k in metric_keys:
        axes[1].plot(epochs, [r.get(k, math.nan) for r in history], marker="o", label=k)
    axes[1].set(title="evaluation", xlabel="epoch")
    if metric_keys:
        axes[1].legend(fontsize=8)
    _save(fig, path)
    return True


def _plot_loss_hist(run_dir: Path, path: Path) -> bool:
    p = run_dir / "dynamics.npz"
    if not p.is_file():
        return False
    with np.load(p, allow_pickle=False) as z:
        loss, corrupted = z["loss"], z["is_corrupted"]
    if loss.shape[0] == 0 or corrupted.size != loss.shape[1]:
        return False
    last = loss[-1]
    ok = np.isfinite(last)
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    bins = np.histogram_bin_edges(last[ok], bins=40) if ok.any() else 10
    ax.hist(last[ok & ~corrupted.astype(bool)], bins=bins, alpha=0.6, label="clean")
    ax.hist(last[ok & corrupted.astype(bool)], bins=bins, alpha=0.6, label="corrupted")
    ax.set(title="last-epoch training loss per example", xlabel="loss", ylabel="examples")
    ax.legend()
    _save(fig, path)
    return True


def _plot_transitions(run_dir: Path, path: Path) -> bool:
    p = run_dir / "transitions.json"
    if not p.is_file():
        return False
    mats = json.loads(p.read_text())
    if not mats:
        return False
    plt = _figure()
    fig, axes = plt.subplots(1, len(mats), figsize=(5.5 * len(mats), 4.2), squeeze=False)
    for ax, (name, m) in zip(axes[0], mats.items()):
        im = ax.imshow(np.asarray(m), vmin=0, vmax=1, cmap="viridis")
        ax.set(title=f"{name} T[clean, noisy]", xlabel="noisy label", ylabel="clean label")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    _save(fig, path)
    return True


def _plot_pr(run_dir: Path, path: Path) -> bool:
    p = run_dir / "label_issues.csv"
    if not p.is_file():
        return False
    with p.open() as f:
        rows = list(csv.DictReader(f))
    if not rows or "is_corrupted" not in rows[0]:
        return False
    from sklearn.metrics import precision_recall_curve

    y = np.array([int(r["is_corrupted"]) for r in rows])
    q = np.array([float(r["label_quality"]) for r in rows])
    if y.min() == y.max():
        return False
    prec, rec, _ = precision_recall_curve(y, -q)
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(rec, prec)
    ax.axhline(y.mean(), ls="--", c="grey", label=f"noise rate {y.mean():.2f}")
    ax.set(title="finding corrupted labels by low quality", xlabel="recall", ylabel="precision")
    ax.legend()
    _save(fig, path)
    return True


def _table(d: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in d.items()
    )
    return f"<table>{rows}</table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return str(v)


_STYLE = (
    "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
    "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:left}img{max-width:100%}</style>"
)


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` and its PNGs into ``run_dir``; return the HTML path."""
    run_dir = Path(run_dir)
    p = run_dir / "metrics.json"
    if not p.is_file():
        raise FileNotFoundError(f"run_dir must hold a finished run (metrics.json); got {run_dir}")
    metrics = json.loads(p.read_text())
    plots = {
        "curves.png": (
            "Training curves",
            _plot_curves(_read_history(run_dir), run_dir / "curves.png"),
        ),
        "loss_hist.png": (
            "Loss: clean vs corrupted",
            _plot_loss_hist(run_dir, run_dir / "loss_hist.png"),
        ),
        "transitions.png": (
            "Transition matrices",
            _plot_transitions(run_dir, run_dir / "transitions.png"),
        ),
        "detection_pr.png": (
            "Label-issue detection",
            _plot_pr(run_dir, run_dir / "detection_pr.png"),
        ),
    }
    parts = [
        f"<html><head><meta charset='utf-8'><title>{html.escape(metrics['run'])}</title>{_STYLE}"
    ]
    parts.append(f"</head><body><h1>Run {html.escape(metrics['run'])}</h1>")
    parts.append(
        f"<p>task <b>{html.escape(metrics['task'])}</b>, method {html.escape(metrics['method'])}, "
        f"loss {html.escape(metrics['loss'])}, selector {html.escape(metrics['selector'])}</p>"
    )
    parts.append("<h2>Clean test metrics</h2>" + _table(metrics["test"]))
    parts.append("<h2>Model selection</h2>" + _table(metrics["selection"]))
    parts.append("<h2>Validation</h2>" + _table(metrics["val"]))
    if metrics.get("detection"):
        parts.append("<h2>Label issues (training set)</h2>" + _table(metrics["detection"]))
    parts.append("<h2>Training</h2>" + _table(metrics["train"]))
    for name, (title, made) in plots.items():
        if made:
            parts.append(f"<h2>{title}</h2><img src='{name}' alt='{title}'>")
    parts.append(
        "<p>Files: config.yaml, metrics.json, history.jsonl, label_issues.csv, dynamics.npz</p>"
    )
    parts.append("</body></html>")
    out = run_dir / "report.html"
    with atomic_write(out) as f:
        f.write("\n".join(parts))
    return out


def _row(name: str, m: dict[str, Any]) -> dict[str, str]:
    det = m.get("detection") or {}
    test = m.get("test", {})

    def f(x: Any) -> str:
        return "-" if x is None else f"{x:.4f}" if isinstance(x, float) else str(x)

    row = {
        "run": name,
        "method": m.get("method", ""),
        "loss": m.get("loss", ""),
        "selector": m.get("selector", ""),
    }
    row |= {f"clean test {k}": f(v) for k, v in test.items()}
    row |= {
        "selected by": m.get("selection", {}).get("rule", ""),
        "issue precision": f(det.get("precision")),
        "issue recall": f(det.get("recall")),
        "issue AUROC": f(det.get("auroc")),
    }
    return row


def summary_table(results: list[tuple[str, dict[str, Any]]]) -> str:
    """A markdown table: clean test metrics and label-issue precision/recall of each run."""
    rows = [_row(n, m) for n, m in results]
    cols = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r.get(c, "-") for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def write_summary(
    out_dir: Path, results: list[tuple[str, dict[str, Any]]], run_dirs: list[Path]
) -> Path:
    """``summary.json``, ``summary.md`` and a ``report.html`` linking every run's report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(out_dir / "summary.json") as f:
        json.dump({n: m for n, m in results}, f, indent=2)
    table = summary_table(results)
    with atomic_write(out_dir / "summary.md") as f:
        f.write(table + "\n")
    rows = [_row(n, m) for n, m in results]
    cols = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(r.get(c, '-'))}</td>" for c in cols) + "</tr>"
        for r in rows
    )
    parts = [f"<html><head><meta charset='utf-8'><title>summary</title>{_STYLE}</head><body>"]
    parts.append(f"<h1>Summary</h1><table><tr>{head}</tr>{body}</table>")
    for (name, _), d in zip(results, run_dirs):
        rel = (
            Path(d).resolve().relative_to(out_dir.resolve())
            if _inside(d, out_dir)
            else Path(d).resolve()
        )
        parts.append(f"<h2><a href='{rel}/report.html'>{html.escape(name)}</a></h2>")
        if (Path(d) / "curves.png").is_file():
            parts.append(f"<img src='{rel}/curves.png' alt='{html.escape(name)} curves'>")
    parts.append("</body></html>")
    out = out_dir / "report.html"
    with atomic_write(out) as f:
        f.write("\n".join(parts))
    return out


def _inside(path: Path, parent: Path) -> bool:
    try:
        Path(path).resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False
