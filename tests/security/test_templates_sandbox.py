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


# Memory: a few characters of template asking for gigabytes. Each must stop with a SandboxError
# while the memory the render takes stays a small multiple of the cap (MAX_SIZE characters).
DOUBLING = "{% set ns = namespace(v=SEED) %}{% for i in range(40) %}{% set ns.v = ns.v OP ns.v %}{% endfor %}{{ ns.v|length }}"
BLOWUPS = {
    "concat-doubling": DOUBLING.replace("SEED", "'ab'").replace("OP", "~"),
    "plus-doubling": DOUBLING.replace("SEED", "'ab'").replace("OP", "+"),
    "list-doubling": DOUBLING.replace("SEED", "[1, 2]").replace("OP", "+"),
    "nested-loops": "{% for i in range(100000) %}{% for j in range(100000) %}0123456789{% endfor %}{% endfor %}",
    "captured-block": "{% set s = 'ab' * 500 %}{% set x %}{% for i in range(100000) %}{% for j in range(10000) %}{{ s }}"
    "{% endfor %}{% endfor %}{% endset %}.",
    "center-method": "{{ ''.center(10**9) }}",
    "zfill": "{{ 'a'.zfill(999999999) }}",
    "center-filter": "{{ 'a'|center(10**9) }}",
    "format-width": "{{ '{:>999999999}'.format(1) }}",
    "format-repeat": "{{ ('{0}' * 600000).format('x' * 1000000) }}",
    "percent-width": "{{ '%999999999d' % 1 }}",
    "percent-star": "{{ '%*d' % (999999999, 1) }}",
    "percent-repeat": "{{ ('%s' * 1000) % (('x' * 1000000,) * 1000) }}",
    "percent-mapping": "{{ ('%(a)s' * 1000) % {'a': 'x' * 1000000} }}",
    "replace-method": "{{ ('a' * 1000000).replace('a', 'aaaa') }}",
    "replace-filter": "{{ ('a' * 1000000)|replace('a', 'aaaa') }}",
    "expandtabs": "{{ ('\t' * 1000000).expandtabs(100) }}",
    "indent": "{{ ('a\n' * 500000)|indent(100) }}",
    "join-filter": "{{ (['x'] * 1000000)|join('y' * 1000000) }}",
    "join-method": "{{ ('y' * 1000000).join(['x'] * 1000000) }}",
}


@pytest.mark.parametrize("text", BLOWUPS.values(), ids=BLOWUPS.keys())
def test_a_template_cannot_blow_memory(text: str) -> None:
    import tracemalloc

    from trace_opt.template_sandbox import MAX_SIZE

    tracemalloc.start()
    try:
        with pytest.raises(ExecutionError) as info:
            _render(trace.node(text, trainable=True))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(info.value.exception, SandboxError), info.value.exception
    assert f"at most {MAX_SIZE:,} characters or items" in str(info.value.exception)
    assert peak < 16 * MAX_SIZE, f"peak {peak / 2**20:.0f} MiB"  # str of 1-byte chars: a few copies of the cap


def test_large_but_reasonable_templates_still_render() -> None:
    text = ("{% for i in range(20000) %}{{ '%05d' % i }} {{ '{:>8}'.format(i) }} {{ 'x'|center(20) }}\n{% endfor %}"
            "{{ 'ab' ~ 'cd' }}{{ [1] + [2] }}{{ '%d' % 5000000 }}{{ ('a' * 1000)|replace('a', 'bb')|length }}")  # fmt: skip
    out = _render(text)
    assert out.startswith("00000        0          x          \n") and out.endswith("abcd[1, 2]50000002000")
    assert len(out) > 700_000
