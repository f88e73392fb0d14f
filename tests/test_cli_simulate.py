import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix

from labelnoise import __version__
from labelnoise.cli import main


@pytest.fixture
def labels_npy(tmp_path):
    path = tmp_path / "labels.npy"
    np.save(path, (np.arange(20_000) % 4).astype(np.int32))
    return path


def read_report(path):
    return json.loads(path.read_text())


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"labelnoise {__version__}"


def test_simulate_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["simulate", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--noise" in out and "pair_flip" in out and "--column" in out


def test_symmetric_npy_round_trip(labels_npy, tmp_path):
    out = tmp_path / "noisy.npy"
    rc = main(
        [
            "simulate",
            str(labels_npy),
            "-o",
            str(out),
            "--noise",
            "symmetric",
            "--rate",
            "0.3",
            "--seed",
            "7",
        ]
    )
    assert rc == 0
    clean, noisy = np.load(labels_npy), np.load(out)
    assert noisy.dtype == np.int32 and noisy.shape == clean.shape
    report = read_report(tmp_path / "noisy.json")
    assert report["seed"] == 7 and report["noise"] == "symmetric"
    assert report["arguments"]["rate"] == 0.3 and report["num_classes"] == 4
    assert report["noise_rate"] == pytest.approx(float(np.mean(noisy != clean)))
    ref = confusion_matrix(clean, noisy, normalize="true")
    np.testing.assert_allclose(report["realised_transition_matrix"], ref)
    np.testing.assert_allclose(np.diag(report["requested_transition_matrix"]), 0.7)
    again = tmp_path / "again.npy"
    main(
        [
            "simulate",
            str(labels_npy),
            "-o",
            str(again),
            "--noise",
            "symmetric",
            "--rate",
            "0.3",
            "--seed",
            "7",
        ]
    )
    assert np.array_equal(np.load(again), noisy)


@pytest.mark.parametrize("kind", ["pair_flip", "mapping", "random"])
def test_class_noise_kinds(labels_npy, tmp_path, kind):
    out = tmp_path / "noisy.npy"
    extra = ["--mapping", "0:1,2:3"] if kind == "mapping" else []
    rc = main(
        [
            "simulate",
            str(labels_npy),
            "-o",
            str(out),
            "--noise",
            kind,
            "--rate",
            "0.4",
            "--seed",
            "1",
            *extra,
        ]
    )
    assert rc == 0
    report = read_report(tmp_path / "noisy.json")
    realised = np.array(report["realised_transition_matrix"])
    assert np.abs(realised - np.array(report["requested_transition_matrix"])).max() < 0.03


def test_instance_noise_with_features(labels_npy, tmp_path):
    feats = tmp_path / "x.npy"
    np.save(feats, np.random.default_rng(0).normal(size=(20_000, 5)))
    out = tmp_path / "noisy.npy"
    rc = main(
        [
            "simulate",
            str(labels_npy),
            "-o",
            str(out),
            "--noise",
            "instance",
            "--rate",
            "0.2",
            "--features",
            str(feats),
            "--seed",
            "0",
        ]
    )
    assert rc == 0
    assert abs(read_report(tmp_path / "noisy.json")["noise_rate"] - 0.2) < 0.02


def test_csv_string_classes_keep_other_columns(tmp_path):
    src = tmp_path / "data.csv"
    animals = np.array(["cat", "dog", "bird"])[np.arange(3000) % 3]
    pd.DataFrame({"id": np.arange(3000), "animal": animals, "w": 0.5}).to_csv(src, index=False)
    out = tmp_path / "noisy.csv"
    rc = main(
        [
            "simulate",
            str(src),
            "-o",
            str(out),
            "--column",
            "animal",
            "--noise",
            "symmetric",
            "--rate",
            "0.5",
            "--seed",
            "0",
        ]
    )
    assert rc == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["id", "animal", "w"] and (table["w"] == 0.5).all()
    assert set(table["animal"]) == {"cat", "dog", "bird"}
    report = read_report(tmp_path / "noisy.json")
    assert report["class_names"] == ["bird", "cat", "dog"]
    assert abs(report["noise_rate"] - float((table["animal"] != animals).mean())) < 1e-12


@pytest.mark.parametrize(
    "kind,flags",
    [
        ("gaussian", ["--scale", "0.1"]),
        ("uniform", ["--rate", "0.3"]),
        ("outlier", ["--rate", "0.3"]),
    ],
)
def test_continuous_targets_csv(tmp_path, kind, flags):
    src = tmp_path / "ages.csv"
    ages = np.linspace(10, 80, 2000)
    pd.DataFrame({"age": ages}).to_csv(src, index=False)
    out = tmp_path / "noisy.csv"
    assert (
        main(
            [
                "simulate",
                str(src),
                "-o",
                str(out),
                "--column",
                "age",
                "--noise",
                kind,
                "--seed",
                "2",
                *flags,
            ]
        )
        == 0
    )
    noisy = pd.read_csv(out)["age"].to_numpy()
    report = read_report(tmp_path / "noisy.json")
    assert report["noise_rate"] == pytest.approx(1.0 if kind == "gaussian" else 0.3, abs=0.05)
    assert report["mean_abs_change"] == pytest.approx(np.abs(noisy - ages).mean(), rel=1e-6)


def test_custom_report_path_and_ignore_index(tmp_path):
    src = tmp_path / "tokens.npy"
    y = np.arange(1000).reshape(100, 10) % 3
    y[:, -2:] = -100
    np.save(src, y)
    out, rep = tmp_path / "n.npy", tmp_path / "reports" / "r.json"
    assert (
        main(
            [
                "simulate",
                str(src),
                "-o",
                str(out),
                "--report",
                str(rep),
                "--noise",
                "pair_flip",
                "--rate",
                "0.5",
            ]
        )
        == 0
    )
    noisy = np.load(out)
    assert noisy.shape == (100, 10) and (noisy[:, -2:] == -100).all()
    report = read_report(rep)
    assert report["num_units"] == 800 and isinstance(report["seed"], int)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--noise", "symmetric", "--rate", "1.5"], r"rate must be in \[0, 1\); got 1.5"),
        (["--noise", "symmetric"], "--rate is required"),
        (
            ["--noise", "symmetric", "--rate", "0.1", "--num-classes", "3"],
            r"labels must be in \[0, 3\)",
        ),
        (["--noise", "instance", "--rate", "0.1"], "--features is required"),
        (["--noise", "mapping", "--rate", "0.1", "--mapping", "a-b"], "--mapping must look like"),
    ],
)
def test_failed_run_writes_nothing(labels_npy, tmp_path, capsys, args, message):
    out = tmp_path / "out" / "noisy.npy"
    assert main(["simulate", str(labels_npy), "-o", str(out), *args]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_files(labels_npy, tmp_path, capsys):
    assert (
        main(
            [
                "simulate",
                str(tmp_path / "missing.npy"),
                "-o",
                str(tmp_path / "o.npy"),
                "--noise",
                "symmetric",
                "--rate",
                "0.1",
            ]
        )
        == 2
    )
    assert "input file not found" in capsys.readouterr().err
    assert (
        main(
            [
                "simulate",
                str(labels_npy),
                "-o",
                str(tmp_path / "o.csv"),
                "--noise",
                "symmetric",
                "--rate",
                "0.1",
            ]
        )
        == 2
    )
    assert "--output must have the input's suffix .npy" in capsys.readouterr().err
    src = tmp_path / "t.csv"
    pd.DataFrame({"y": [0, 1]}).to_csv(src, index=False)
    assert (
        main(
            [
                "simulate",
                str(src),
                "-o",
                str(tmp_path / "o.csv"),
                "--column",
                "z",
                "--noise",
                "symmetric",
                "--rate",
                "0.1",
            ]
        )
        == 2
    )
    assert "--column must be one of ['y']; got 'z'" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "o.npy").exists()


def test_string_npy_and_missing_csv_values(tmp_path, capsys):
    src = tmp_path / "names.npy"
    np.save(src, np.array(["a", "b", "c"] * 100))
    out = tmp_path / "n.npy"
    assert (
        main(
            [
                "simulate",
                str(src),
                "-o",
                str(out),
                "--noise",
                "pair_flip",
                "--rate",
                "0.9",
                "--seed",
                "0",
            ]
        )
        == 0
    )
    assert set(np.load(out).tolist()) == {"a", "b", "c"}
    csv = tmp_path / "gaps.csv"
    pd.DataFrame({"y": ["a", None, "b"]}).to_csv(csv, index=False)
    rc = main(
        [
            "simulate",
            str(csv),
            "-o",
            str(tmp_path / "g.csv"),
            "--column",
            "y",
            "--noise",
            "symmetric",
            "--rate",
            "0.1",
        ]
    )
    assert rc == 2
    assert "--column 'y' must have no missing values; got 1" in capsys.readouterr().err
    assert not (tmp_path / "g.csv").exists()


@pytest.mark.parametrize("flag", ["--output", "--report"])
def test_a_folder_as_output_or_report_writes_nothing(tmp_path, capsys, flag):
    """Checked before anything is written: no labels file is left behind when the report
    path is a folder."""
    src = tmp_path / "labels.npy"
    np.save(src, np.array([0, 1, 2, 1, 0, 2] * 5))
    folder = tmp_path / ("out.npy" if flag == "--output" else "rep")
    folder.mkdir()
    out = tmp_path / "out.npy" if flag == "--output" else tmp_path / "noisy.npy"
    args = ["simulate", str(src), "--noise", "symmetric", "--rate", "0.2", "--output", str(out)]
    if flag == "--report":
        args += ["--report", str(folder)]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and f"{flag} must be a file path; got the folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["labels.npy", folder.name])
