"""Recipes name code: ``labelnoise._code.load_factory`` and its allow-list."""

from __future__ import annotations

import pytest

from labelnoise._code import ALLOW_CODE_ENV, load_factory


def test_allow_listed_module_loads():
    f = load_factory("torch.nn:Linear", what="task.backbone")
    assert f(2, 3).out_features == 3


def test_module_outside_the_allow_list_is_refused_unless_allowed(monkeypatch):
    monkeypatch.delenv(ALLOW_CODE_ENV, raising=False)
    with pytest.raises(
        ValueError, match=r"task.backbone 'json:loads' would import 'json'.*--allow-code"
    ):
        load_factory("json:loads", what="task.backbone")
    monkeypatch.setenv(ALLOW_CODE_ENV, "1")
    assert load_factory("json:loads", what="task.backbone")("[1]") == [1]


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("torch.nn.Linear", "must be 'package.module:factory'"),
        (":Linear", "must be 'package.module:factory'"),
        ("torch.nn:", "must be 'package.module:factory'"),
        ("torch.no_such_module:f", "cannot be imported"),
        ("torch.nn:no_such_name", "has no callable 'no_such_name'"),
    ],
)
def test_bad_specs_name_the_option(spec, match):
    with pytest.raises(ValueError, match=match):
        load_factory(spec, what="task.backbone")


def test_train_refuses_a_recipe_that_imports_other_code(tmp_path, monkeypatch, capsys, data_dir):
    from labelnoise.cli import main

    monkeypatch.delenv(ALLOW_CODE_ENV, raising=False)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"task: {{name: audio, backbone: 'json:loads'}}\noutput_dir: {tmp_path / 'o'}\n"
        f"data: {{data_dir: {data_dir}, limit: 16}}\n"
    )
    assert main(["train", str(recipe)]) == 2
    assert "would import 'json'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
