"""Content-addressed storage: values, parameter versions and recorded runs in one SQLite file.

>>> from trace_opt.store import Store
>>> store = Store()                      # Store("runs.db") for a file
>>> ref = store.commit({"prompt": "Be brief.", "temperature": 0.2})
>>> store.get(ref.digest)["prompt"]
'Be brief.'

- ``canonical`` / ``decoding``: the canonical JSON every object is stored (and addressed) as.
- ``wrappers``: which classes loading may rebuild, and wrappers for other types.
- ``store``: the ``Store`` and its ``Ref``s; ``use_store`` makes one active for a block.
- ``db``: the SQLite file (schema, WAL, transactions); ``runs``: the tables of recorded runs.
- ``history``: parameter versions (``commit_parameters``, ``history``, ``diff``, ``checkout``).
"""

from __future__ import annotations

from .canonical import FunctionRef, Opaque, digest, dumps, loads
from .history import ParameterChange, Version
from .store import Ref, Store, active_store, use_store
from .wrappers import TypeWrapper, register_type, register_wrapper

__all__ = [
    "FunctionRef",
    "Opaque",
    "ParameterChange",
    "Ref",
    "Store",
    "TypeWrapper",
    "Version",
    "active_store",
    "digest",
    "dumps",
    "loads",
    "register_type",
    "register_wrapper",
    "use_store",
]
