"""Each step's typed keywords (etl/api/keywords.py) match the settings declared in etl/config.py."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args, get_origin, get_type_hints

import pytest

from etl import api, config
from etl.api import keywords

# Each step function and the prefixes its keywords drop (as etl/api/steps.py passes them to step_settings).
STEPS: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {
    "import_pairs": (api.import_pairs, ()),
    "import_terms": (api.import_terms, ()),
    "clean": (api.clean, ("clean_",)),
    "embed": (api.embed, ("embed_",)),
    "index": (api.index, ("index_",)),
    "mine": (api.mine, ("mine_",)),
    "split": (api.split, ("split_",)),
    "probe": (api.probe, ("probe_",)),
    "export_triplets": (api.export_triplets, ("export_",)),
    "export_synth": (api.export_synth, ()),
    "export_synonyms": (api.export_synonyms, ()),
    "report": (api.report, ()),
    "synth": (api.synth, ("synth_", "llm_")),
    "synth_trial": (api.synth_trial, ("synth_", "llm_")),
    "judge": (api.judge, ("judge_", "llm_")),
    "run": (api.run, ()),
}
KIND = {"int": int, "float": float, "bool": bool}


def _keywords(fn: Callable[..., Any]) -> type:
    """The TypedDict a step function's **settings unpacks."""
    # The annotation as written (etl.api's modules postpone annotations; some name types only mypy imports).
    annotation = inspect.signature(fn).parameters["settings"].annotation
    match = re.fullmatch(r"Unpack\[(\w+)\]", str(annotation))
    assert match, f"{fn.__name__}'s **settings is typed {annotation}, not Unpack[<a TypedDict of etl.api.keywords>]"
    typed = getattr(keywords, match[1])
    assert typing.is_typeddict(typed) and not typed.__total__
    return typed


def _full(key: str, prefixes: tuple[str, ...]) -> str | None:
    """The setting `key` names, as etl/api/resolve.py resolves it: its full name, or with the step's prefix."""
    names = config.keys()
    return key if key in names else next((p + key for p in prefixes if p + key in names), None)


def _expected(key: str) -> Any:
    """A keyword's type for setting `key`: its kind or a Literal of its choices (a Sequence for a list), or None."""
    spec = config.SPECS[key]
    one: Any = Literal[spec.choices] if spec.choices else KIND.get(spec.kind, str)
    return (Sequence[one] if spec.many else one) | None


@pytest.mark.parametrize("step", STEPS)
def test_every_keyword_is_a_setting_the_step_resolves_with_its_declared_type(step: str) -> None:
    fn, prefixes = STEPS[step]
    for key, hint in get_type_hints(_keywords(fn)).items():
        full = _full(key, prefixes)
        assert full is not None and full != "warehouse", f"{step}() types {key!r}, which names no setting it resolves"
        assert hint == _expected(full), (
            f"{step}(): {key} is typed {hint}, but {full} is {config.SPECS[full].describe()}"
        )


@pytest.mark.parametrize("step", [step for step, (_, prefixes) in STEPS.items() if prefixes])
def test_a_step_types_every_setting_of_its_own_prefix(step: str) -> None:
    fn, prefixes = STEPS[step]
    typed = {_full(key, prefixes) for key in get_type_hints(_keywords(fn))}
    own = [key for key in config.SPECS if key.startswith(prefixes)]
    assert not [key for key in own if key not in typed], f"{step}() does not type all of its settings"


def test_run_types_every_setting_but_the_warehouse() -> None:
    typed = set(get_type_hints(_keywords(api.run)))
    assert typed == set(config.keys()) - {"warehouse"}


def test_the_literals_list_the_declared_choices_in_order() -> None:
    used = {name: value for name, value in vars(keywords).items() if get_origin(value) is Literal}
    assert used, "etl/api/keywords.py declares no Literal"
    choices = {spec.choices for spec in config.SPECS.values() if spec.choices}
    for name, value in used.items():
        assert get_args(value) in choices, f"keywords.{name} lists choices no setting declares"
