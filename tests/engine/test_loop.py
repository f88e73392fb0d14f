"""The generic loop: outputs, exact resume after SIGKILL, bad input, 2 processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from labelnoise.cli import main
from labelnoise.config import deep_merge, resolve
from labelnoise.engine import train

TINY = {
    "task": {"name": "classification", "hidden": 16, "noise": {"kind": "symmetric", "rate": 0.4}},
    "data": {"limit": 120, "eval_limit": 61, "batch_size": 20},
    "optim": {"lr": 0.01},
    "train": {"epochs": 3, "progress": False, "num_threads": 1},
    "detection": {"folds": 2, "epochs": 1},
}


def tiny(tmp_path: Path, name: str = "run", **over) -> dict:
    return deep_merge(TINY, {"output_dir": str(tmp_path / name), **over})


def _env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _compare(a: dict, b: dict, tol: float) -> None:
    for section in ("test", "val"):
        for k, v in a[section].items():
            assert abs(v - b[section][k]) <= tol, (section, k, v, b[section][k])
    assert a["selection"]["best_epoch"] == b["selection"]["best_epoch"]
    for k in ("precision", "recall", "auroc", "num_issues"):
        assert abs(a["detection"][k] - b["detection"][k]) <= tol, k


def test_run_writes_every_output(tmp_path):
    cfg = resolve(tiny(tmp_path))
    metrics = train(cfg)
    run = tmp_path / "run"
    for f in (
        "config.yaml",
        "metrics.json",
        "history.jsonl",
        "label_issues.csv",
        "dynamics.npz",
        "best_model.pt",
        "transitions.json",
    ):
        assert (run / f).is_file(), f
    assert metrics == json.loads((run / "metrics.json").read_text())
    assert metrics["selection"]["rule"] == "noisy_val"
    assert metrics["selection"]["metric"] == "val_noisy_accuracy"
    assert set(metrics["test"]) == {"accuracy"} and metrics["train"]["steps"] == 18
    history = [json.loads(x) for x in (run / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [1, 2, 3]
    best = max(history, key=lambda r: r["val_noisy_accuracy"])
    assert metrics["selection"]["best_epoch"] == best["epoch"]
    # The selected model's test accuracy is the one of its epoch.
    assert metrics["test"]["accuracy"] == pytest.approx(best["test_accuracy"], abs=1e-9)
    rows = (run / "label_issues.csv").read_text().splitlines()
    assert len(rows) == 121 and rows[0].startswith("example_id,")
    ids = sorted(int(r.split(",")[0]) for r in rows[1:])
    assert ids == list(range(120))
    with np.load(run / "dynamics.npz") as z:
        assert z["loss"].shape == (3, 120) and np.isfinite(z["loss"]).all()
        corrupted = z["is_corrupted"]
    assert metrics["noise_rate_realised"] == pytest.approx(corrupted.mean())
    assert metrics["detection"]["num_corrupted"] == int(corrupted.sum())
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["limit"] == 120
    # realised transition: counted here independently from the same training split
    from labelnoise.engine.setup import build_task

    train_split = build_task(cfg).splits.train
    counts = np.zeros((10, 10))
    for i in range(len(train_split)):
        item = train_split[i]
        counts[int(item["clean_target"]), int(item["target"])] += 1
    rows = counts.sum(1, keepdims=True)
    expected = np.where(rows > 0, counts / np.maximum(rows, 1), np.eye(10))
    realised = np.asarray(json.loads((run / "transitions.json").read_text())["realised"])
    np.testing.assert_allclose(realised, expected, atol=1e-12)

    # report and evaluate on the finished run
    assert main(["report", str(run)]) == 0
    html = (run / "report.html").read_text()
    pngs = re.findall(r"src='([^']+\.png)'", html)
    assert {"curves.png", "loss_hist.png", "transitions.png", "detection_pr.png"} <= set(pngs)
    assert all((run / p).stat().st_size > 1000 for p in pngs)
    assert main(["evaluate", str(run)]) == 0
    ev = json.loads((run / "eval.json").read_text())
    assert ev["test_accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-9)


def test_select_by_clean_val_and_early_stopping(tmp_path):
    cfg = resolve(
        tiny(
            tmp_path,
            train={"select_by": "clean_val", "early_stopping": 1, "epochs": 8},
            detection={"method": "dynamics"},
        )
    )
    m = train(cfg)
    assert m["selection"]["rule"] == "clean_val" and "clean" in m["selection"]["note"]
    assert m["detection"]["method"] == "dynamics"
    h = [json.loads(x) for x in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    values = [r["val_clean_accuracy"] for r in h]
    best = int(np.argmax(values))  # first maximum, as the loop keeps the first best
    assert m["selection"]["best_epoch"] == h[best]["epoch"]
    assert m["val"]["clean_accuracy"] == pytest.approx(values[best], abs=1e-12)
    # patience 1: the run stops at the first evaluation that does not improve
    improved = [i == 0 or v > max(values[:i]) for i, v in enumerate(values)]
    assert all(improved[:-1]) and (not improved[-1] or len(h) == 8)
    assert m["train"]["epochs"] == len(h)


def test_sigkill_mid_epoch_then_resume_gives_identical_metrics(tmp_path):
    spec = tiny(
        tmp_path,
        "killed",
        train={"epochs": 8, "checkpoint_every": 4, "keep_checkpoints": 2},
        data={"batch_size": 8},
    )
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(spec))
    proc = subprocess.Popen(
        [sys.executable, "-m", "labelnoise", "train", str(recipe)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    ckpts = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        if ckpts.is_dir() and any(p.name.startswith("step-") for p in ckpts.iterdir()):
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    steps_per_epoch = 15  # 120 examples / batch 8
    done = sorted(p for p in ckpts.iterdir() if p.name.startswith("step-"))
    assert done, "no checkpoint before the kill"
    for p in done:  # complete: renamed into place only after everything was written
        assert (p / "loop_state.pt").is_file() and (p / "model.safetensors").is_file()
    if int(done[-1].name[5:]) % steps_per_epoch == 0 and len(done) > 1:
        import shutil

        shutil.rmtree(done[-1])  # resume from the mid-epoch one
    assert int(sorted(ckpts.glob("step-*"))[-1].name[5:]) % steps_per_epoch != 0
    assert main(["train", str(recipe)]) == 2  # the directory holds a run: refused
    resumed = train(resolve(spec), resume=True)
    assert not list(ckpts.glob(".tmp-*"))
    reference = train(resolve(deep_merge(spec, {"output_dir": str(tmp_path / "ref")})))
    _compare(resumed, reference, 1e-6)
    h1 = (tmp_path / "killed" / "history.jsonl").read_text().splitlines()
    h2 = (tmp_path / "ref" / "history.jsonl").read_text().splitlines()
    for a, b in zip(map(json.loads, h1), map(json.loads, h2), strict=True):
        assert a.keys() == b.keys()
        assert all(abs(a[k] - b[k]) <= 1e-6 for k in a)


def test_unknown_key_and_wrong_type_from_the_cli(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({**tiny(tmp_path), "trainer": {}}))
    assert main(["train", str(recipe)]) == 2
    assert "unknown recipe key 'trainer'" in capsys.readouterr().err
    recipe.write_text(yaml.safe_dump(tiny(tmp_path)))
    assert main(["train", str(recipe), "--train.epochs=three"]) == 2
    assert "train.epochs must be an int; got 'three'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_missing_data_directory(tmp_path):
    cfg = resolve(tiny(tmp_path, data={"data_dir": str(tmp_path / "nowhere")}))
    with pytest.raises(FileNotFoundError, match="data.data_dir must be an existing directory"):
        train(cfg)


def test_labels_out_of_range_in_the_data(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((30, 3)), y=np.r_[np.zeros(29, int), 7])
    cfg = resolve(
        tiny(
            tmp_path, task={"dataset": "d.npz", "num_classes": 5}, data={"data_dir": str(tmp_path)}
        )
    )
    with pytest.raises(ValueError, match=r"labels must be in \[0, 5\); got max 7"):
        train(cfg)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = resolve(
        tiny(
            tmp_path,
            optim={"name": "sgd", "lr": 1e30, "momentum": 0.0},
            train={"checkpoint_every": 1},
        )
    )
    with pytest.raises(ValueError, match=r"loss must be finite; got NaN or inf at step (\d+)") as e:
        train(cfg)
    ckpts = sorted((tmp_path / "run" / "checkpoints").glob("step-*"))
    assert ckpts and "last good checkpoint is kept at" in str(e.value)
    assert str(ckpts[-1]) in str(e.value)
    assert (ckpts[-1] / "model.safetensors").is_file()


def test_output_dir_holding_another_run(tmp_path):
    train(resolve(tiny(tmp_path, train={"max_steps": 2}, detection={"method": "none"})))
    other = resolve(tiny(tmp_path, train={"max_steps": 3}, detection={"method": "none"}))
    with pytest.raises(FileExistsError, match="already holds a run; pass --overwrite"):
        train(other)
    with pytest.raises(
        ValueError, match=r"--resume must use the run's own config; .*train.max_steps"
    ):
        train(other, resume=True)
    assert train(other, overwrite=True)["train"]["steps"] == 3


def test_gather_records_keeps_the_first_occurrence_of_each_example():
    import torch

    from labelnoise.engine.collect import gather_records

    class One:
        num_processes = 1

    rec = {
        "example_id": torch.tensor([3, 3, 1, 3, 1, 0]),  # example 3 has 2 units in batch 0
        "batch": torch.tensor([0, 0, 0, 1, 1, 1]),  # batch 1 repeats 3 and 1 (padding)
        "value": torch.tensor([1.0, 2.0, 3.0, 9.0, 9.0, 4.0]),
    }
    out = gather_records(One(), rec)
    assert out["example_id"].tolist() == [3, 3, 1, 0] and out["value"].tolist() == [1, 2, 3, 4]
    assert "batch" not in out


@pytest.mark.distributed
def test_two_processes_match_one_process(tmp_path):
    """Same global batch (2 x 10 vs 1 x 20): same metrics, same per-example records, and no
    duplicates from the distributed sampler (61 evaluation items split 31 / 30)."""
    spec = tiny(tmp_path, "two", train={"epochs": 2}, data={"batch_size": 10})
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(spec))
    launcher = Path(sys.executable).with_name("accelerate")
    import socket

    with socket.socket() as sock:  # a free port: other distributed tests may run in parallel
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [
        str(launcher),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(port),
        "-m",
        "labelnoise",
        "train",
        str(recipe),
        "--no-report",
    ]
    env = dict(_env(), ACCELERATE_USE_CPU="true")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    one = train(
        resolve(deep_merge(spec, {"output_dir": str(tmp_path / "one"), "data": {"batch_size": 20}}))
    )
    assert two["train"]["num_processes"] == 2 and one["train"]["num_processes"] == 1
    assert two["train"]["steps"] == one["train"]["steps"] == 12
    _compare(two, one, 1e-6)
    with (
        np.load(tmp_path / "two" / "dynamics.npz") as a,
        np.load(tmp_path / "one" / "dynamics.npz") as b,
    ):
        assert np.isfinite(a["loss"]).all()
        np.testing.assert_allclose(a["loss"], b["loss"], atol=1e-5)
        np.testing.assert_allclose(a["margin"], b["margin"], atol=1e-5)
    rows = (tmp_path / "two" / "label_issues.csv").read_text().splitlines()[1:]
    assert sorted(int(r.split(",")[0]) for r in rows) == list(range(120))


def test_coteaching_without_forgetting_is_cross_entropy_for_network_a(tmp_path):
    """forget_rate 0: both networks keep every unit, so network A (same init, same batches,
    its own optimizer) follows exactly the standard loop's CE run."""
    ce = train(resolve(tiny(tmp_path, "ce", detection={"method": "none"})))
    ct = train(
        resolve(
            tiny(
                tmp_path,
                "ct",
                method={"name": "coteaching"},
                detection={"method": "none"},
                selector={"name": "coteaching", "forget_rate": 0.0},
            )
        )
    )
    assert ct["method"] == "coteaching" and ct["selector"] == "coteaching"
    for section in ("test", "val"):
        for k, v in ce[section].items():
            assert abs(v - ct[section][k]) <= 1e-6
    h_ce = [json.loads(x) for x in (tmp_path / "ce" / "history.jsonl").read_text().splitlines()]
    h_ct = [json.loads(x) for x in (tmp_path / "ct" / "history.jsonl").read_text().splitlines()]
    assert [r["val_noisy_accuracy"] for r in h_ce] == [r["val_noisy_accuracy"] for r in h_ct]
    with pytest.raises(ValueError, match="two-network selector"):
        resolve(tiny(tmp_path, "bad", method={"name": "coteaching"}))


def test_resume_a_recipe_with_variants(tmp_path):
    import shutil

    from labelnoise.commands.train import run_recipe

    spec = tiny(
        tmp_path,
        "v",
        train={"max_steps": 2},
        detection={"method": "none"},
        variants={"a": {}, "b": {"loss": {"name": "gce"}}},
    )
    first = dict(run_recipe(spec, {}, report=False))
    shutil.rmtree(tmp_path / "v" / "b")  # as if killed before variant b started
    again = dict(run_recipe(spec, {}, resume=True, report=False))
    assert again["a"] == first["a"]  # finished: read back, not retrained
    assert again["b"]["loss"] == "gce" and again["b"]["test"] == first["b"]["test"]
    with pytest.raises(FileExistsError, match="already holds a run"):
        run_recipe(spec, {}, report=False)


def test_dynamics_detection_skips_examples_the_run_never_reached(tmp_path):
    cfg = resolve(tiny(tmp_path, train={"max_steps": 2}, detection={"method": "dynamics"}))
    metrics = train(cfg)
    rows = (tmp_path / "run" / "label_issues.csv").read_text().splitlines()[1:]
    assert len(rows) == 120  # every example is listed; the 80 unseen ones keep quality 1
    assert metrics["detection"]["method"] == "dynamics"
    assert metrics["data"] == json.loads((tmp_path / "run" / "metrics.json").read_text())["data"]


def test_jocor_with_no_agreement_term_and_no_forgetting_is_cross_entropy(tmp_path):
    """JoCoR's joint loss with co_lambda 0 and forget_rate 0 is CE on both networks, so network
    A follows the standard CE run; with co_lambda > 0 the KL term changes the run."""

    def jocor(name: str, lam: float) -> dict:
        sel = {"name": "coteaching", "variant": "jocor", "forget_rate": 0.0, "co_lambda": lam}
        over = {"method": {"name": "coteaching"}, "detection": {"method": "none"}, "selector": sel}
        return train(resolve(tiny(tmp_path, name, **over)))

    ce = train(resolve(tiny(tmp_path, "ce", detection={"method": "none"})))
    plain, agree = jocor("j0", 0.0), jocor("j9", 0.9)
    assert abs(ce["val"]["noisy_accuracy"] - plain["val"]["noisy_accuracy"]) <= 1e-6
    assert abs(ce["test"]["accuracy"] - plain["test"]["accuracy"]) <= 1e-6
    h0 = (tmp_path / "j0" / "history.jsonl").read_text()
    h9 = (tmp_path / "j9" / "history.jsonl").read_text()
    assert h0 != h9 and agree["selector"] == "coteaching"


def test_clean_training_labels_report_detection_without_scores(tmp_path):
    """No corrupted example: AUROC / precision are undefined, so the run reports the counts
    (it used to crash in the metrics)."""
    over = {"task": {"noise": {"kind": "none", "rate": 0.0}}, "train": {"max_steps": 2}}
    metrics = train(resolve(tiny(tmp_path, **over)))
    det = metrics["detection"]
    assert det["num_corrupted"] == 0 and det["n"] == 120 and "auroc" not in det
    rows = (tmp_path / "run" / "label_issues.csv").read_text().splitlines()
    assert len(rows) == 121 and rows[0].endswith("is_corrupted")
