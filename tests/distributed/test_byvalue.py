"""Which modules go to Ray workers by value: the user's, never the standard library, installed
packages or trace_opt itself; and the registration is undone after the shipment."""

from __future__ import annotations

import json
import sys

import pytest

import trace_opt as trace
from trace_opt.distributed.byvalue import ByValue, user_module

cloudpickle = pytest.importorskip("ray.cloudpickle")


class Local:
    pass


def test_the_user_module_is_the_one_defining_a_class_or_function() -> None:
    assert user_module(Local) is sys.modules[__name__]
    assert user_module(test_the_user_module_is_the_one_defining_a_class_or_function) is sys.modules[__name__]
    assert user_module(json.dumps) is None  # standard library
    assert user_module(pytest.raises) is None  # an installed package
    assert user_module(trace.node) is None and user_module(trace.Module) is None  # this library


def test_registration_is_undone_and_leaves_others_alone() -> None:
    registry = cloudpickle.list_registry_pickle_by_value
    shipment = ByValue(cloudpickle)
    shipment.add(Local)
    shipment.add(test_registration_is_undone_and_leaves_others_alone)  # same module: once
    assert __name__ in registry() and shipment.registered == [sys.modules[__name__]]
    other = ByValue(cloudpickle)
    other.add(Local)  # already registered by the first shipment: not this one's to undo
    assert other.registered == []
    other.close()
    assert __name__ in registry()
    shipment.close()
    assert __name__ not in registry()
