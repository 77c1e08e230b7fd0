"""One contract, every optimizer (PyTorch's optim_db idea): construction errors, propose changes
nothing, step applies what the model suggested, state round-trips, bad replies and bad values
change nothing, memory is kept and shown."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from opt_helpers import PromptReader, reply

import trace_opt as trace
from optimizers import OPRO, Optimizer, OptoPrime, Proposal, TextGrad
from trace_opt.constraints import Choice
from trace_opt.errors import ConstraintViolation, ReplyParseError, StateDictError
from trace_opt.llm import DummyLLM, FunctionLLM

OPTIMIZERS = [OptoPrime, TextGrad, OPRO]
NEW = {"prompt": "hi", "k": 1}


def base(name: str) -> str:
    return re.sub(r"_\d+$", "", name)


class Program(trace.Module):
    def __init__(self, lang: Any = None) -> None:
        self.prompt = trace.node("HELLO", trainable=True, name="prompt", description="the greeting")
        self.k = trace.node(3, trainable=True, name="k")
        if lang is not None:
            self.lang = lang

    @trace.bundle(trainable=True)
    def shout(self, text, times):
        """Repeat the text."""
        return text * times

    def __call__(self) -> Any:
        return self.shout(self.prompt, self.k)


def suggest_new(variables: dict[str, Any], prompt: str) -> dict[str, Any]:
    return {n: NEW[base(n)] for n in variables if base(n) in NEW}


def make(cls: type[Optimizer], suggest: Any = suggest_new, **hyper: Any) -> tuple[Program, Optimizer, PromptReader]:
    program = Program()
    reader = PromptReader(suggest)
    return program, cls(program.parameters(), llm=reader.llm(), **hyper), reader


def give_feedback(program: Program, opt: Optimizer, text: str = "say it once, softly", score: float = 0.2) -> None:
    opt.zero_feedback()
    opt.backward(program(), text, score=score)


@pytest.fixture(params=OPTIMIZERS, ids=lambda c: c.__name__)
def cls(request: pytest.FixtureRequest) -> type[Optimizer]:
    return request.param  # type: ignore[no-any-return]


# -- construction ----------------------------------------------------------------------------


def test_construction_errors_name_the_value_and_the_fix(cls: type[Optimizer]) -> None:
    p = trace.node("x", trainable=True)
    with pytest.raises(ValueError, match="Invalid parameters: an empty list"):
        cls([])
    with pytest.raises(TypeError, match="a set"):
        cls({p})
    with pytest.raises(TypeError, match=r"(?s)Invalid parameter #1: Node\(name='str_\d+'.*help: create it with"):
        cls([p, trace.node("plain")])
    with pytest.raises(ValueError, match="is not trainable"):
        cls([trace.ParameterNode("frozen", trainable=False)])
    with pytest.raises(TypeError, match=r"help: pass agent.parameters\(\)"):
        cls(Program())
    with pytest.raises(TypeError, match="a single node"):
        cls(p)
    with pytest.raises(ValueError, match="appears twice"):
        cls([p, p])
    with pytest.raises(ValueError, match=r"Invalid memory_size: -1"):
        cls([p], memory_size=-1)
    with pytest.raises(ValueError, match=r"Invalid max_reasks: 'two'"):
        cls([p], max_reasks="two")
    with pytest.raises(TypeError, match="unknown hyperparameter.*'lr'"):
        cls([p], lr=0.1)
    with pytest.raises(TypeError, match="Invalid LLM backend"):
        cls([p], llm=42)


def test_param_groups_and_state_like_torch(cls: type[Optimizer]) -> None:
    a, b = trace.node("a", trainable=True), trace.node("b", trainable=True)
    opt = cls([{"params": [a]}, {"params": [b], "max_reasks": 0}], max_reasks=1)
    assert [g["max_reasks"] for g in opt.param_groups] == [1, 0]
    assert opt.parameters == [a, b] and set(opt.state) == {a, b}
    with pytest.raises(ValueError, match="appears twice"):
        opt.add_param_group({"params": [a]})
    assert cls.__name__ in repr(opt) and "Parameter Group 1" in repr(opt)


# -- propose / update / step -----------------------------------------------------------------


def test_propose_changes_nothing_and_step_applies_what_the_prompt_asked_for(cls: type[Optimizer]) -> None:
    program, opt, reader = make(cls, memory_size=3)
    give_feedback(program, opt)
    before = {p: (p.data, p.version) for p in opt.parameters}
    state = json.dumps(opt.state_dict())
    proposal = opt.propose()
    assert isinstance(proposal, Proposal)
    assert {p: (p.data, p.version) for p in opt.parameters} == before
    assert json.dumps(opt.state_dict()) == state  # no memory, step or log change either
    assert {base(p.py_name): v for p, v in proposal.items()} == NEW
    assert proposal.calls >= 1 and proposal.tokens > 0 and proposal.messages
    record = opt.update(proposal)
    assert program.prompt.data == "hi" and program.k.data == 1
    assert program.prompt.version == 1 and program.shout.parameter.version == 0
    assert sorted(map(base, record["changed"])) == ["k", "prompt"]
    assert record["tokens"] == proposal.tokens and opt.step_count == 1 and opt.log[-1] is record
    assert program().data == "hi"


def test_no_feedback_means_no_call_and_no_change(cls: type[Optimizer]) -> None:
    program, opt, reader = make(cls)
    assert opt.propose() == {} and reader.prompts == []


def test_update_is_all_or_nothing(cls: type[Optimizer]) -> None:
    lang = trace.node("en", trainable=True, name="lang", constraint=Choice(["en", "es"]))
    program = Program(lang)
    opt = cls(program.parameters())
    with pytest.raises(ConstraintViolation, match="breaks its constraint"):
        opt.update({program.prompt: "changed", lang: "fr"})
    with pytest.raises(ConstraintViolation, match="does not compile"):
        opt.update({program.prompt: "changed", program.shout.parameter: "def shout(:"})
    assert program.prompt.data == "HELLO" and lang.data == "en" and opt.step_count == 0
    with pytest.raises(ValueError, match="Invalid proposal key"):
        opt.update({trace.node("x", trainable=True): "y"})
    opt.update({program.k: "7", lang: "es"})  # typed like the current value
    assert program.k.data == 7 and lang.data == "es"


def test_code_that_does_not_compile_is_rejected_after_reasks(cls: type[Optimizer]) -> None:
    bad = {"__code": "def shout(text, times)\n    return text", "prompt": "hi"}
    program, opt, reader = make(cls, lambda v, _: {n: bad[base(n)] for n in v if base(n) in bad}, max_reasks=1)
    give_feedback(program, opt)
    code = program.shout.parameter
    proposal = opt.propose()
    assert code in proposal.rejected and "does not compile" in proposal.rejected[code]
    assert code not in proposal and proposal[program.prompt] == "hi"
    assert any("could not be used" in p and "does not compile" in p for p in reader.prompts)  # the re-ask says why
    opt.update(proposal)
    assert code.data.startswith("def shout(self, text, times):\n") and program.prompt.data == "hi"
    assert opt.state[code]["rejections"] == 1


def test_code_defining_another_function_is_rejected(cls: type[Optimizer]) -> None:
    program, opt, _ = make(cls, lambda v, _: {n: "def other(x):\n    return x" for n in v if "__code" in n}, max_reasks=0)
    give_feedback(program, opt)
    proposal = opt.propose()
    assert "must define a function named 'shout'" in proposal.rejected[program.shout.parameter]


def test_constraint_violating_suggestion_is_rejected(cls: type[Optimizer]) -> None:
    lang = trace.node("en", trainable=True, name="lang", constraint=Choice(["en", "es"]))
    reader = PromptReader(lambda v, _: {n: "fr" for n in v if base(n) == "lang"})
    opt = cls([lang], llm=reader.llm(), max_reasks=0)
    opt.zero_feedback()
    opt.backward(lang + "!", "use French")
    opt.step()
    assert lang.data == "en" and "not one of" in opt.log[-1]["rejected"][lang.py_name]


@pytest.mark.parametrize(
    "replies",
    [["I would change the prompt."], ["{not json"], ['{"reasoning": "x", "suggestion": {"nope": 1}}'], ['["a list"]']],
    ids=["prose", "broken-json", "unknown-names", "not-an-object"],
)
def test_malformed_replies_change_nothing(cls: type[Optimizer], replies: list[str]) -> None:
    program = Program()
    llm = DummyLLM(default=replies[0])
    opt = cls(program.parameters(), llm=llm, max_reasks=2)
    give_feedback(program, opt)
    before = [(p.data, p.version) for p in opt.parameters]
    with pytest.raises(ReplyParseError):
        opt.step()
    assert [(p.data, p.version) for p in opt.parameters] == before and opt.step_count == 0
    assert len(llm.calls) >= 3  # asked, then two re-asks (TextGrad also asks for gradients)


def test_a_reask_recovers_from_a_malformed_reply(cls: type[Optimizer]) -> None:
    answers: list[str] = []

    def suggest(variables: dict[str, Any], prompt: str) -> Any:
        answers.append(prompt)
        return "Sure! ```json\n{'reasoning': 'x', 'suggestion': " if len(answers) == 1 else suggest_new(variables, prompt)

    program, opt, reader = make(cls, suggest)
    give_feedback(program, opt)
    opt.step()
    assert program.prompt.data == "hi"
    assert "Your reply could not be used" in answers[1]


# -- memory and state ------------------------------------------------------------------------


def test_memory_is_bounded_and_shown(cls: type[Optimizer]) -> None:
    values = iter(["first", "second", "third", "fourth"])
    program, opt, reader = make(cls, lambda v, _: {n: next(values) for n in v if base(n) == "prompt"}, memory_size=2)
    for i in range(4):
        seen = len(reader.prompts)
        give_feedback(program, opt, f"feedback number {i}", score=i / 10)
        opt.step()
    # an entry is what was tried before a step and how it was judged
    assert [e["variables"]["0"] for e in opt.memory[0]] == ["second", "third"]
    assert [e["score"] for e in opt.memory[0]] == [0.2, 0.3]
    last = "\n".join(reader.prompts[seen:])  # the 4th step saw entries 2 and 3, not 1
    assert "feedback number 1" in last and '"first"' in last and "feedback number 2" in last
    assert "feedback number 0" not in last and "HELLO" not in last.split("#Feedback")[-1]


def test_state_round_trips_through_json(cls: type[Optimizer]) -> None:
    program, opt, _ = make(cls, memory_size=4, max_reasks=1)
    give_feedback(program, opt)
    opt.step()
    saved = json.loads(json.dumps(opt.state_dict()))
    assert saved["step"] == 1 and saved["param_groups"][0]["params"] == [0, 1, 2]
    program2, opt2, _ = make(cls)
    opt2.load_state_dict(saved)
    assert opt2.state_dict() == saved
    assert opt2.param_groups[0]["memory_size"] == 4 and opt2.step_count == 1
    assert opt2.memory[0][0]["variables"]["0"] == "HELLO"


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda s: s.update(optimizer="Adam"), "state of a Adam"),
        (lambda s: s.update(step=-1), "invalid step count"),
        (lambda s: s["param_groups"].append({"params": []}), "param groups"),
        (lambda s: s["param_groups"][0].update(memory_size=-5), "Invalid memory_size: -5"),
        (lambda s: s["param_groups"][0]["params"].pop(), "different number of parameters"),
        (lambda s: s["memory"][0].append({"variables": {"9": 1}, "feedback": ""}), "invalid memory entry"),
        (lambda s: s.update(log="x"), "list of records"),
        (lambda s: s.update(format="torch"), "not an optimizer state dict"),
    ],
)
def test_bad_state_is_refused_before_anything_changes(cls: type[Optimizer], corrupt: Any, message: str) -> None:
    program, opt, _ = make(cls, memory_size=2)
    give_feedback(program, opt)
    opt.step()
    saved = opt.state_dict()
    bad = json.loads(json.dumps(saved))
    corrupt(bad)
    fresh_program, fresh, _ = make(cls, memory_size=2)
    untouched = json.dumps(fresh.state_dict())
    with pytest.raises(StateDictError, match=message):
        fresh.load_state_dict(bad)
    assert json.dumps(fresh.state_dict()) == untouched


def test_llm_comes_from_the_context_when_not_given(cls: type[Optimizer]) -> None:
    program = Program()
    opt = cls(program.parameters())
    give_feedback(program, opt)
    with trace.llm.use(FunctionLLM(PromptReader(suggest_new))):
        opt.step()
    assert program.k.data == 1


def test_reply_with_suffixless_names_and_prose_is_understood(cls: type[Optimizer]) -> None:
    program = Program()
    text = "Here is my answer:\n```json\n" + reply({"prompt": "hey", "K": 2}) + "\n```\nHope this helps!"
    opt = cls([program.prompt, program.k], llm=FunctionLLM(
        lambda m, **kw: json.dumps({"x": "advice"}) if "#Operation" in m[0]["content"] else text))
    give_feedback(program, opt)
    opt.step()
    assert (program.prompt.data, program.k.data) == ("hey", 2)
