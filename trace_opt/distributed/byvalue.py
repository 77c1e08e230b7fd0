"""Which code goes to Ray workers by value: the user's own modules, found while pickling.

A worker imports installed packages as the driver does, but the user's modules (a script's
neighbours, a test file, a notebook's helpers) may not be importable there, and a fresh import
would not hold the driver's current objects anyway. So every class or function whose module
is the user's is shipped by value (cloudpickle's ``register_pickle_by_value``), decided for each
class and function the pickler meets -- not only for the mapped function: the agent behind a
trainer's closure (``lambda ex: run(self.agent, ...)``) is reached through attributes.

A module is the user's when it has a file that is neither in the standard library nor in an
install location (``sysconfig``/``site`` paths), and it is not part of trace_opt or optimizers.
"""

from __future__ import annotations

import functools
import os
import site
import sys
import sysconfig
import types
from typing import Any

__all__ = ["ByValue", "user_module"]

_OWN = {__name__.split(".")[0], "optimizers"}  # our own packages are installed wherever they live


@functools.cache
def _install_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(site.getsitepackages() if hasattr(site, "getsitepackages") else ())
    roots.add(site.getusersitepackages() if hasattr(site, "getusersitepackages") else None)
    return tuple(sorted({os.path.realpath(r) + os.sep for r in roots if r}))


@functools.cache
def _is_user_module_name(name: str, file: str) -> bool:
    if name.split(".")[0] in _OWN or name == "__main__":  # __main__ goes by value anyway
        return False
    real = os.path.realpath(file)
    return not any(real.startswith(root) for root in _install_roots())


def user_module(obj: Any) -> types.ModuleType | None:
    """The user's module that defines ``obj`` (a class or a function), or ``None``."""
    name = getattr(obj, "__module__", None)
    if not isinstance(name, str):
        return None
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None)
    if module is None or not isinstance(file, str) or not _is_user_module_name(name, file):
        return None
    return module


class ByValue:
    """The modules registered by value for one shipment, unregistered by :meth:`close` (the
    registry is cloudpickle's, process-wide: a module someone else registered is left alone)."""

    def __init__(self, cloudpickle: Any) -> None:
        self._cp = cloudpickle
        self._seen: set[str] = set()
        self.registered: list[types.ModuleType] = []

    def add(self, obj: Any) -> None:
        """Register the user's module behind ``obj``, before the pickler decides how to ship it."""
        module = user_module(obj)
        if module is None or module.__name__ in self._seen:
            return
        self._seen.add(module.__name__)
        if module.__name__ in self._cp.list_registry_pickle_by_value():
            return  # registered by someone else (the user, another map): theirs to undo
        self._cp.register_pickle_by_value(module)
        self.registered.append(module)

    def close(self) -> None:
        for module in self.registered:
            self._cp.unregister_pickle_by_value(module)
        self.registered.clear()

