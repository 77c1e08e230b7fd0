"""Templates are untrusted text: a trainable or loaded template renders in jinja2's sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import trace_opt as trace
from trace_opt.errors import ExecutionError, SandboxError
from trace_opt.llm import DummyLLM, use

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('touch {marker}') }}",
    "{{ lipsum.__globals__['os'].popen('touch {marker}').read() }}",
    "{{ self._TemplateReference__context.namespace.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.__builtins__['__import__']('os').system('touch {marker}') }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ request.__class__ }}",
    "{{ '{0.__class__.__mro__}'.format(1) }}",
    "{{ items.append(1) }}{{ items }}",
    "{{ values.update({'x': 1}) }}",
    "{{ config.items() }}{{ namespace.__init__.__globals__ }}",
    "{{ 'a' * 100000000 }}",
    "{{ 9 ** 999999999 }}",
    "{% for i in range(100000000) %}{% endfor %}",
]


def _render(text: Any, **values: Any) -> str:
    with use(DummyLLM(["generated"] * 4)):
        return str(trace.run(trace.template(text), **values).data)


def test_a_template_renders_variables_and_generations() -> None:
    assert _render("Hi {{ name }}: {{ generate_text(max_tokens=4) }}", name="Ada") == "Hi Ada: generated"


@pytest.mark.parametrize("attack", ESCAPES)
def test_a_template_cannot_reach_python(attack: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = trace.node(attack.replace("{marker}", str(marker)), trainable=True)  # as an optimizer would set it
    values = {"items": [], "values": {}, "request": None, "config": {}}
    with pytest.raises(ExecutionError) as info:
        _render(text, **values)
    assert isinstance(info.value.exception, (SandboxError, OverflowError))  # OverflowError: jinja2's range cap
    assert not marker.exists() and values["items"] == [] and values["values"] == {}


def test_a_loaded_template_is_sandboxed_too(tmp_path: Path) -> None:
    @trace.model
    class Agent:
        def __init__(self) -> None:
            self.tpl = trace.node("Hi {{ name }}", trainable=True)

    agent = Agent()
    path = tmp_path / "agent.json"
    agent.save(path)
    doc = json.loads(path.read_text())
    doc["parameters"]["tpl"] = "{{ cycler.__init__.__globals__.os.getcwd() }}"
    path.write_text(json.dumps(doc))
    agent.load(path)
    with pytest.raises(ExecutionError) as info:
        _render(agent.tpl, name="Ada")
    assert isinstance(info.value.exception, SandboxError)
