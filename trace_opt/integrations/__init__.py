"""Bridges to the tools teams already run: ``trace_opt.integrations.mlflow`` (``autolog()``).

Each integration imports its library only when used; ``import trace_opt`` loads none of them.
"""

from __future__ import annotations

__all__: list[str] = []
