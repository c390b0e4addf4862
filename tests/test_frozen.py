"""Frozen means frozen: a loaded spec and its values cannot be changed after load."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from crs_model.model import Spec
from crs_model.types import BOOL, INT, REAL, STR, Base, Type

MAPPINGS = [f.name for f in dataclasses.fields(Spec) if f.type.startswith("Mapping[")]

MUTATIONS: dict[str, Callable[[Any, str], object]] = {
    "setitem": lambda m, k: m.__setitem__(k, None),
    "delitem": lambda m, k: m.__delitem__(k),
    "pop": lambda m, k: m.pop(k),
    "popitem": lambda m, k: m.popitem(),
    "clear": lambda m, k: m.clear(),
    "update": lambda m, k: m.update({k: None}),
    "setdefault": lambda m, k: m.setdefault(k + "_new", None),
    "ior": lambda m, k: m.__ior__({k: None}),
}


def test_every_mapping_field_is_listed() -> None:
    # the test below must see every mapping of a Spec, not a hand-kept subset
    assert {"evidence", "variables", "parameters", "definitions", "nodes", "outcomes", "symbols"} <= set(MAPPINGS)


@pytest.mark.parametrize("name", MAPPINGS)
@pytest.mark.parametrize("how", sorted(MUTATIONS))
def test_no_mapping_of_a_spec_can_be_changed(spec: Spec, name: str, how: str) -> None:
    mapping: Mapping[str, object] = getattr(spec, name)
    assert mapping, f"spec.{name} is empty: the mutation would prove nothing"
    before = dict(mapping)
    key = next(iter(mapping))
    with pytest.raises((TypeError, AttributeError)):
        MUTATIONS[how](mapping, key)
    assert dict(getattr(spec, name)) == before


def test_the_builder_keeps_no_handle_on_a_spec(spec: Spec) -> None:
    # a dict passed to Spec(...) is copied: changing it afterwards does not reach the spec
    params = dict(spec.parameters)
    rebuilt = dataclasses.replace(spec, parameters=params)
    params.clear()
    assert dict(rebuilt.parameters) == dict(spec.parameters) != {}


def test_a_spec_attribute_cannot_be_rebound(spec: Spec) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.parameters = {}  # type: ignore[misc]


def test_type_base_is_a_closed_enum_that_still_compares_as_text() -> None:
    assert [t.base for t in (BOOL, INT, REAL, STR)] == [Base.BOOL, Base.INT, Base.REAL, Base.STR]
    assert INT.base == "int"
    assert isinstance(INT.base, Base)
    assert {"real": 1}[REAL.base] == 1  # hashes as its text, so string-keyed tables still work
    assert str(Type(Base.ENUM, ("a", "b"))) == "enum {a, b}"
    assert str(REAL) == "real"
    assert INT.numeric
    assert REAL.numeric
    assert not BOOL.numeric
    with pytest.raises(ValueError, match="'integer' is not a valid Base"):
        Base("integer")
