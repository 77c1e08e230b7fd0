"""Recorded runs with replay points, and human input in the middle of a program.

>>> import random
>>> import trace_opt as trace
>>> from trace_opt.replay import record
>>> from trace_opt.store import Store
>>> @trace.bundle()
... def roll():
...     return random.randint(1, 6)
>>> with record(Store()) as run:
...     first, second = roll(), roll()
>>> retry = run.rewind(1).replay()      # the first roll comes from the record
>>> retry.calls[0].output == first.data
True

- ``run``: ``record``, ``Run`` (``rewind``, ``replay``, ``resume``, ``load``, ``summary``).
- ``recorder``: the call hook that records and replays.
- ``calls``: ``Call`` and the text / DOT pictures of a call tree.
- ``human``: ``request_input``.
"""

from __future__ import annotations

from .calls import Call
from .human import request_input
from .run import Run, record

__all__ = ["Call", "Run", "record", "request_input"]
