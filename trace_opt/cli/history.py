"""``trace-opt history``: parameter versions in a store, newest first, with their diffs.

A version a training run scored shows its score as mean ± standard error, the 95% bootstrap
interval and the number of examples (kept with the version by ``trace_opt.stats.attach``);
versions from runs before that have none and show no score.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..stats import attached, describe
from ..store import Store, Version
from .output import clip, emit_json, stamp, write
from .stores import open_stores

__all__ = ["cmd_history"]

_PREFIX = "params/"


def _versions(store: Store, branch: str, limit: int | None) -> list[Version]:
    return store.history(branch, limit)


def _diff(store: Store, v: Version) -> dict[str, str]:
    if v.parent is None:
        return {name: f"(initial) {clip(repr(value), 200)}" for name, value in v.state().items()}
    return {name: str(change) for name, change in store.diff(v.parent, v.ref).items()}


def cmd_history(args: argparse.Namespace) -> int:
    """List parameter versions (per store and branch); ``--diff`` shows what each changed."""
    stores = open_stores(args.store)
    try:
        out: list[dict[str, Any]] = []
        for store in stores:
            for ref_name in store.refs(_PREFIX):
                branch = ref_name[len(_PREFIX):]
                if args.branch and args.branch not in branch:
                    continue
                versions = _versions(store, branch, args.limit)
                out.append({"store": store.path, "branch": branch, "versions": [
                    {"ref": v.ref.digest, "time": stamp(v.time), "message": v.message or "", "changed": list(v.changed),
                     "parent": v.parent.digest if v.parent else None, "values": v.state(),
                     "scores": attached(store, v.ref.digest),
                     **({"diff": _diff(store, v)} if args.diff else {})}
                    for v in versions]})  # fmt: skip
        if args.json:
            emit_json(out)
            return 0
        if not out:
            where = ", ".join(s.path for s in stores)
            write(f"no parameter history in {where}" + (f" for branch {args.branch!r}" if args.branch else ""))
            return 0
        for group in out:
            write(f"{group['store']}  branch {group['branch']}  ({len(group['versions'])} versions)")
            for v in group["versions"]:
                changed = ", ".join(v["changed"]) or "-"
                write(f"  {v['ref'][:12]}  {v['time']}  {clip(v['message'], 50):<50}  changed: {changed}")
                if v["scores"] is not None:
                    s = v["scores"]
                    where = f" on the {s['on']}" if isinstance(s.get("on"), str) else ""
                    write(f"      score {describe(s.get('score'), s.get('score_se'), s.get('score_ci'), s.get('score_n'))}{where}")
                for name, text in v.get("diff", {}).items():
                    write("\n".join("      " + line for line in text.rstrip("\n").splitlines()))
            write()
        return 0
    finally:
        for s in stores:
            s.close()
