"""Run ``map``/``parallel`` on a Ray cluster with the same graph as an in-process run.

``trace_opt.map(fn, items, executor="ray")`` runs each ``fn(item)`` as a Ray task and returns
nodes whose parents are the driver's own input and parameter nodes (see ``wire``), so
``backward`` and optimizers work on them unchanged. Ray is imported only when used.

>>> from trace_opt.distributed import TaskRecord
>>> TaskRecord(0).failed
False
"""

from __future__ import annotations

from .runner import TaskRecord, ensure_ray, last_tasks, ray_map
from .worker import call_task, parameter_version

__all__ = ["TaskRecord", "call_task", "ensure_ray", "last_tasks", "parameter_version", "ray_map"]
