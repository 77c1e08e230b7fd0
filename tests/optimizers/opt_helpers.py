"""Fake optimizer LLMs that *read the prompt*, as a model would, and reply accordingly."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

from trace_opt.llm import FunctionLLM

_VALUE = re.compile(r"^\((?P<type>[a-z_A-Z]+)\) (?P<name>[A-Za-z_][A-Za-z0-9_]*) = (?P<value>.*)$")
_CODE = re.compile(r"^\(code\) (?P<name>[A-Za-z_][A-Za-z0-9_]*):$")
_SECTIONS = ("#Variables", "#Variable")


def section(prompt: str, title: str) -> str:
    """The text of ``#title`` up to the next ``#Section`` header or blank-line-separated part."""
    m = re.search(rf"^{re.escape(title)}\n(.*?)(?=\n#[A-Z][a-z]+\n|\n\n[A-Z]|\Z)", prompt, re.S | re.M)
    return m.group(1) if m else ""


def read_variables(prompt: str) -> dict[str, Any]:
    """``{name: current value}`` parsed from the #Variables (or TextGrad's #Variable) section."""
    for title in _SECTIONS:
        body = section(prompt, title)
        if body:
            break
    found: dict[str, Any] = {}
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        m, c = _VALUE.match(lines[i]), _CODE.match(lines[i])
        if c:
            j = i + 1
            while j < len(lines) and not (_VALUE.match(lines[j]) or _CODE.match(lines[j])):
                j += 1
            found[c.group("name")] = "\n".join(lines[i + 1 : j])
            i = j
            continue
        if m:
            raw, kind = m.group("value"), m.group("type")
            found[m.group("name")] = {"int": int, "float": float}.get(kind, str)(raw) if kind in ("int", "float", "str") else raw
        i += 1
    return found


def reply(suggestion: dict[str, Any], reasoning: str = "ok") -> str:
    return json.dumps({"reasoning": reasoning, "suggestion": suggestion})


class PromptReader:
    """A FunctionLLM body: answers TextGrad gradient prompts with advice for every input named
    in the prompt, and every other prompt with ``suggest(variables, prompt)``."""

    def __init__(self, suggest: Callable[[dict[str, Any], str], dict[str, Any] | str]) -> None:
        self.suggest = suggest
        self.prompts: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, messages: list[dict[str, Any]], **params: Any) -> str:
        prompt = "\n".join(m["content"] for m in messages if m["role"] != "assistant")
        with self.lock:
            self.prompts.append(prompt)
        if "#Operation" in messages[0]["content"]:
            targets = re.search(r"For each of these inputs: (.*?) --", messages[0]["content"]).group(1).split(", ")
            return json.dumps({t: f"advice for {t}: follow the feedback" for t in targets})
        out = self.suggest(read_variables(prompt), prompt)
        return out if isinstance(out, str) else reply(out)

    def llm(self) -> FunctionLLM:
        return FunctionLLM(self)
