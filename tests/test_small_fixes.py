"""Small newcomer-visible fixes: show keeps quotes balanced, rejected suggestions are warnings."""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

import pytest

import trace_opt as trace
from optimizers import OPRO, OptoPrime, TextGrad
from trace_opt.cli import main
from trace_opt.constraints import Choice
from trace_opt.llm import FunctionLLM
from trace_opt.replay import record
from trace_opt.store import Store


def test_show_cuts_long_strings_inside_their_quotes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    echo = trace.bundle()(lambda text: text.upper())
    store = Store(tmp_path / "store.db")
    with record(store):
        echo("it's a long review, with 'quotes' and \"double quotes\", " * 4)
    store.close()
    assert main(["show", "latest", "--store", str(tmp_path / "store.db")]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if "<lambda>(" in line)
    call = re.search(r"<lambda>\((.*)\) = (.*?)\s*$", line)
    assert call is not None, line
    for shown in call.groups():  # each is a complete Python string literal: quotes balanced
        assert isinstance(ast.literal_eval(shown), str) and shown[-2] == "…", shown


@pytest.mark.parametrize("cls", [OptoPrime, TextGrad, OPRO])
def test_a_rejected_suggestion_is_logged_as_a_warning(cls: type, caplog: pytest.LogCaptureFixture) -> None:
    lang = trace.node("en", trainable=True, name="lang", constraint=Choice(["en", "es"]))
    reply = '{"reasoning": "", "suggestion": {"%s": "fr"}}' % lang.py_name
    opt = cls([lang], llm=FunctionLLM(lambda m, **kw: reply), max_reasks=0)
    opt.zero_feedback()
    opt.backward(lang + "!", "use French")
    with caplog.at_level(logging.WARNING):
        opt.step()
    assert lang.data == "en"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "rejected the suggestion" in r.getMessage()]
    assert warnings and "rejected" in warnings[0].getMessage() and "not one of" in warnings[0].getMessage()
