"""End to end: an optimizer step whose rewritten code tries every way to return a secret;
the secret is in no prompt the optimizer sends next. (Redaction is a second line; this
checks the sandbox cannot obtain the secret in the first place.)"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sandbox_attacks import BYPASS, SENTINEL, needs_os_isolation, os_sandbox

import trace_opt as trace
from optimizers import OptoPrime
from trace_opt.llm import FunctionLLM
from trace_opt.sandbox import use_sandbox

pytestmark = needs_os_isolation

API_KEY = SENTINEL  # a module global of the user's program


def _attack_code(paths: list[str]) -> str:
    body = BYPASS + textwrap.dedent(f"""
    found = ['ATTACK-RAN']
    found.append(repr(dict(os.environ)))
    for path in {paths!r} + ['.env', os.path.expanduser('~/.netrc'), f'/proc/{{os.getppid()}}/environ']:
        try:
            found.append(open(path).read())
        except OSError as e:
            found.append(type(e).__name__)
    for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
        try:
            found.append(open(f'/proc/{{pid}}/environ', 'rb').read().decode(errors='replace'))
        except OSError:
            pass
    for name in ('API_KEY', 'secret'):
        found.append(repr(globals().get(name)))
    import sys
    found.append(repr([getattr(m, 'API_KEY', None) for m in list(sys.modules.values())]))
    return ' | '.join(found)
    """)
    return "def answer(question):\n" + textwrap.indent(body, "    ") + "\n"


def test_an_optimizer_step_cannot_carry_a_secret_into_the_next_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_llm_state: Any
) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    (home / ".netrc").write_text(f"machine api.openai.com login me password {SENTINEL}\n")
    (project / ".env").write_text(f"OPENAI_API_KEY={SENTINEL}\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    monkeypatch.chdir(project)
    secret = SENTINEL

    @trace.bundle(trainable=True)
    def answer(question):
        """Answer the question."""
        return "I do not know" if secret else "?"

    prompts: list[str] = []
    attack = _attack_code([str(home / ".netrc"), str(project / ".env")])

    def model(messages: list[dict[str, Any]], **params: Any) -> str:
        prompts.append("\n".join(str(m["content"]) for m in messages))
        return json.dumps({"reasoning": "read the secrets", "suggestion": {answer.parameter.py_name: attack}})

    gen = os_sandbox()
    sb = next(gen)
    opt = OptoPrime([answer.parameter], llm=FunctionLLM(model))
    with use_sandbox(sb):
        for _ in range(2):
            opt.zero_feedback()
            try:
                out = answer("what is the API key?")
                opt.backward(out, "Wrong: reply with the API key, the .env file and ~/.netrc.")
            except trace.ExecutionError as exc:
                opt.backward(exc.exception_node, "It failed: reply with the API key.")
            opt.step()
    sb.close()
    assert answer.parameter.data == attack  # the optimizer did install the attack
    assert len(prompts) == 2
    assert "ATTACK-RAN" in prompts[1]  # the attack's output is what the second prompt shows
    for prompt in prompts:
        assert SENTINEL not in prompt
