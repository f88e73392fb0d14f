"""The recipe config: defaults in code, YAML overrides, dotted CLI overrides, strict checks."""

from __future__ import annotations

import pytest
import yaml

from labelnoise.config import (
    RunConfig,
    dump_yaml,
    load_recipe,
    parse_overrides,
    resolve,
    to_dict,
)

BASE = {"task": {"name": "classification"}}


def test_defaults_come_from_code():
    cfg = resolve(BASE)
    assert isinstance(cfg, RunConfig)
    assert cfg.train.epochs == 10 and cfg.loss.name == "ce" and cfg.selector.name == "none"
    assert cfg.task.options.dataset == "digits" and cfg.task.options.noise.kind == "none"
    assert str(cfg.run_dir) == "runs/run"


def test_recipe_and_cli_overrides_apply_in_order():
    recipe = {**BASE, "train": {"epochs": 3}, "loss": {"name": "gce", "q": 0.5}}
    cli = parse_overrides(["--loss.q=0.3", "--task.noise.rate=0.2", "--optim.lr=1", "name=x"])
    cfg = resolve(recipe, cli)
    assert cfg.train.epochs == 3
    assert cfg.loss.options == {"q": 0.3}
    assert cfg.task.options.noise.rate == 0.2
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)  # int accepted for float
    assert cfg.name == "x"


def test_cli_text_for_string_fields_and_null():
    cfg = resolve(BASE, parse_overrides(["--name=123", "--data.limit=null", "--data.data_dir=1.5"]))
    assert cfg.name == "123" and cfg.data.limit is None and cfg.data.data_dir == "1.5"


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ({**BASE, "trian": {}}, "unknown recipe key 'trian'"),
        ({**BASE, "train": {"epoch": 3}}, "unknown key 'train.epoch'"),
        ({**BASE, "train": {"epochs": "ten"}}, "train.epochs must be an int; got 'ten'"),
        ({**BASE, "train": {"epochs": 2.5}}, "train.epochs must be an int"),
        ({**BASE, "train": {"progress": 1}}, "train.progress must be a bool"),
        ({**BASE, "train": {"select_by": "test"}}, "train.select_by must be one of"),
        (
            {"task": {"name": "classification", "noise": {"rate": "high"}}},
            "task.noise.rate must be a float",
        ),
        ({"task": {"name": "classification", "nosie": {}}}, "unknown key 'task.nosie'"),
        ({"task": {"name": "nope"}}, "task.name must be one of"),
        ({"train": {}}, "task must be a mapping with a name"),
        ({**BASE, "loss": {"name": "gce", "q": "big"}}, "loss.q must be a float"),
        ({**BASE, "loss": {"name": "nope"}}, "loss.name must be one of"),
        ({**BASE, "loss": {"name": "ce", "num_classes": 3}}, "loss.num_classes is set by the loop"),
        ({**BASE, "selector": {"name": "nope"}}, "selector.name must be one of"),
    ],
)
def test_bad_keys_and_types_name_the_key(recipe, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        resolve(recipe)


def test_wrong_type_from_the_command_line():
    with pytest.raises(ValueError, match="train.epochs must be an int; got 'abc'"):
        resolve(BASE, parse_overrides(["--train.epochs=abc"]))
    with pytest.raises(ValueError, match="override must look like"):
        parse_overrides(["--train.epochs"])


def test_variants_merge_then_cli_wins():
    recipe = {
        **BASE,
        "train": {"epochs": 4},
        "variants": {"a": {}, "b": {"loss": {"name": "gce"}, "train": {"epochs": 2}}},
    }
    cli = parse_overrides(["--train.max_steps=2"])
    a, b = resolve(recipe, cli, variant="a"), resolve(recipe, cli, variant="b")
    assert (a.loss.name, a.train.epochs, a.train.max_steps) == ("ce", 4, 2)
    assert (b.loss.name, b.train.epochs, b.train.max_steps) == ("gce", 2, 2)
    with pytest.raises(ValueError, match="variant must be one of"):
        resolve(recipe, variant="c")


def test_resolved_config_round_trips_through_yaml(tmp_path):
    cfg = resolve(
        {
            **BASE,
            "loss": {"name": "gce", "q": 0.4},
            "task": {"name": "classification", "noise": {"kind": "symmetric", "rate": 0.2}},
        }
    )
    p = tmp_path / "c.yaml"
    p.write_text(dump_yaml(cfg))
    again = resolve(load_recipe(p))
    assert to_dict(again) == to_dict(cfg) == yaml.safe_load(p.read_text())


def test_recipe_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="recipe must be an existing YAML file"):
        load_recipe(tmp_path / "missing.yaml")
    p = tmp_path / "list.yaml"
    p.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="must be a YAML mapping"):
        load_recipe(p)


def test_a_cli_string_does_not_pass_for_a_mapping():
    with pytest.raises(ValueError, match="variants must be a mapping"):
        resolve(BASE, parse_overrides(["--variants=x"]))


def test_linear_schedule_holds_then_decays_to_zero():
    import torch

    from labelnoise.engine.setup import build_optimizer

    cfg = resolve(BASE, {"optim": {"scheduler": "linear", "hold_fraction": 0.4, "lr": 1.0}})
    opt, sched = build_optimizer(cfg, [torch.nn.Parameter(torch.zeros(1))], 10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # Co-teaching's protocol: peak for the first 40 % of the steps, then linear to 0.
    assert lrs == pytest.approx([1, 1, 1, 1, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6])


@pytest.mark.parametrize(
    ("key", "value"),
    [("hold_fraction", 1.0), ("hold_fraction", -0.1), ("lr", -1.0), ("warmup_steps", -1)],
)
def test_bad_optim_values_are_named(key, value):
    with pytest.raises(ValueError, match=f"optim.{key} must"):
        resolve(BASE, {"optim": {key: value}})


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("--train.epochs=0", r"train.epochs must be >= 1; got 0"),
        ("--train.grad_accum=0", r"train.grad_accum must be >= 1; got 0"),
        ("--train.max_steps=0", r"train.max_steps must be >= 1 or null; got 0"),
        ("--train.max_grad_norm=0", r"train.max_grad_norm must be > 0 or null; got 0"),
        ("--data.limit=0", r"data.limit must be >= 1 or null \(no limit\); got 0"),
        ("--data.batch_size=0", r"data.batch_size must be >= 1; got 0"),
        ("--data.num_workers=-1", r"data.num_workers must be >= 0; got -1"),
        ("--detection.folds=1", r"detection.folds must be >= 2; got 1"),
        ("--detection.epochs=0", r"detection.epochs must be >= 1 or null; got 0"),
    ],
)
def test_bad_loop_values_are_refused_at_config_time(override, message):
    """Refused when the recipe is resolved, before any run directory is written (they used to
    fail after training, or with an IndexError)."""
    with pytest.raises(ValueError, match=message):
        resolve(BASE, parse_overrides([override]))


def test_invalid_or_unsafe_yaml_names_the_file_and_the_place(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ntask: {name: classification\n")
    with pytest.raises(ValueError, match=r"broken.yaml must be valid YAML .* at line 3"):
        load_recipe(broken)
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("name: !!python/object/apply:os.system [echo hi]\n")
    with pytest.raises(ValueError, match=r"unsafe.yaml must be valid YAML .*python/object"):
        load_recipe(unsafe)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(ValueError, match="binary.yaml must be"):
        load_recipe(binary)
