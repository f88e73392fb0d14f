"""Code named by a recipe: ``"package.module:factory"`` strings (e.g. the audio task's
``backbone``) import a module and call a function from it, so **a recipe is code**. Only
modules of an allow-list of packages are imported unless the user says otherwise
(``labelnoise train --allow-code`` or ``LABELNOISE_ALLOW_CODE=1``)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

__all__ = ["ALLOWED_PACKAGES", "ALLOW_CODE_ENV", "load_factory"]

# top-level packages whose modules a recipe may name without --allow-code
ALLOWED_PACKAGES = (
    "labelnoise",
    "torch",
    "torchvision",
    "torchaudio",
    "transformers",
    "timm",
    "segmentation_models_pytorch",
    "torch_geometric",
)
ALLOW_CODE_ENV = "LABELNOISE_ALLOW_CODE"


def load_factory(spec: str, *, what: str) -> Callable[..., Any]:
    """The callable named ``"package.module:factory"`` by the recipe option ``what``.

    Refused (``ValueError`` naming ``what``): a malformed string, a module outside
    :data:`ALLOWED_PACKAGES` unless ``$LABELNOISE_ALLOW_CODE`` is ``1``, a module that is not
    installed, a name that is not callable.
    """
    module_name, sep, attr = str(spec).partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{what} must be 'package.module:factory'; got {spec!r}")
    top = module_name.split(".")[0]
    if top not in ALLOWED_PACKAGES and os.environ.get(ALLOW_CODE_ENV) != "1":
        raise ValueError(
            f"{what} {spec!r} would import {module_name!r}, outside the packages a recipe may "
            f"name ({', '.join(ALLOWED_PACKAGES)}): a recipe is code. Pass --allow-code "
            f"(or set {ALLOW_CODE_ENV}=1) to run recipes that import other modules"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"{what} {spec!r}: module {module_name!r} cannot be imported ({e})") from e
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"{what} must name a callable; {module_name!r} has no callable {attr!r}")
    return factory
