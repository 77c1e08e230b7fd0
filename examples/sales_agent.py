"""The sales agent of Microsoft Trace's README, trained end to end.

The agent decides the language of a message, extracts the person's name and greets them.
Two prompts and two functions are trainable; the initial ones are wrong on purpose
(``decide_lang`` returns None, ``greet`` always says "Hola", the name prompt is vague).

    python examples/sales_agent.py                      # offline, scripted stand-in LLM
    python examples/sales_agent.py --llm openai/gpt-4o-mini
    python examples/sales_agent.py --llm local --optimizer opro

Offline, one ``FunctionLLM`` plays both parts: the agent's model (a rule-based answer to
"decide the language" / "extract the name") and the optimizer's model, which *reads the
prompt* -- the #Variables it may change and the outputs and feedback it is shown -- and
suggests fixes for what the feedback shows is wrong. It stands in for a real model so the
whole loop (forwards in parallel, feedback, proposals, checked updates, validation,
best-so-far) runs without a network.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from typing import Any

import trace_opt as trace
from optimizers import OPRO, OptoPrime, TextGrad, train
from trace_opt.llm import FunctionLLM, generate_text, resolve, track_usage, use


@trace.model
class SalesAgent:
    def __init__(self, system_prompt: str = "You are a sales assistant.") -> None:
        self.system_prompt = trace.node(system_prompt, name="system_prompt")
        self.instruct1 = trace.node("Decide the language", trainable=True, name="instruct1")
        self.instruct2 = trace.node("Extract name if it's there", trainable=True, name="instruct2")

    def __call__(self, user_query: str) -> Any:
        query = trace.node(user_query, name="user_query")
        response = generate_text(self.instruct1 + "\n\n" + query, system=self.system_prompt)
        en_or_es = self.decide_lang(response)
        user_name = generate_text(self.instruct2 + "\n\n" + query, system=self.system_prompt)
        return self.greet(en_or_es, user_name)

    @trace.bundle(trainable=True)
    def decide_lang(self, response):
        """Map the language into a variable"""
        return

    @trace.bundle(trainable=True)
    def greet(self, lang, user_name):
        """Produce a greeting based on the language"""
        greeting = "Hola"
        return f"{greeting}, {user_name}!"


TRAIN = [
    ("Hola, soy Juan.", "Hola, Juan!"),
    ("Hi, I am Alice.", "Hello, Alice!"),
    ("Buenos días, me llamo María.", "Hola, María!"),
    ("Good morning, my name is Bob.", "Hello, Bob!"),
    ("¿Qué tal? Soy Pedro.", "Hola, Pedro!"),
    ("Hey there, this is Carol.", "Hello, Carol!"),
]
VAL = [("Hola, me llamo Lucía.", "Hola, Lucía!"), ("Hello, I am Dan.", "Hello, Dan!")]


def feedback(query: str, output: Any, expected: str) -> tuple[float, str]:
    if output == expected:
        return 1.0, "Correct."
    return 0.0, f"Incorrect: for {query!r} the greeting should be {expected!r}, not {output!r}."


# -- the offline stand-in model -----------------------------------------------------------------

_SPANISH = re.compile(r"\b(hola|soy|llamo|buenos|qué)\b", re.I)
_NAME = re.compile(r"(?:soy|llamo|I am|name is|this is)\s+(\w+)", re.I)
FIXES = {
    "decide_lang": 'def decide_lang(self, response):\n    """Map the language into a variable"""\n'
                   '    return "es" if "spanish" in response.lower() else "en"',
    "greet": 'def greet(self, lang, user_name):\n    """Produce a greeting based on the language"""\n'
             '    greeting = "Hola" if lang == "es" else "Hello"\n    return f"{greeting}, {user_name}!"',
}  # fmt: skip


def _agent_reply(prompt: str) -> str:
    query = prompt.rsplit("\n\n", 1)[-1]
    if "language" in prompt.lower():
        return "Spanish" if _SPANISH.search(query) else "English"
    name = _NAME.search(query)
    who = name.group(1) if name else "friend"
    return who if "only" in prompt.lower() else f"The name is {who}."


def _variables(prompt: str) -> dict[str, str]:
    found = dict(re.findall(r"^\(str\) (instruct\d_\d+) = (.*)$", prompt, re.M))
    for name, fn in re.findall(r"^\(code\) (__code_\d+):\ndef (\w+)", prompt, re.M):
        found[name] = fn
    return found


def _optimizer_reply(prompt: str) -> str:
    if prompt.startswith("You are part of a system") and "#Operation" in prompt:  # a TextGrad gradient
        targets = re.search(r"For each of these inputs: (.*?) --", prompt).group(1).split(", ")
        return json.dumps({t: "make the value match the expected greeting in the feedback" for t in targets})
    outputs = prompt.split("#Feedback")[-1] + prompt.split("#Outputs")[-1]
    suggestion: dict[str, str] = {}
    for name, what in _variables(prompt).items():
        if what == "decide_lang" and ("None" in outputs or "Incorrect" in outputs):
            suggestion[name] = FIXES["decide_lang"]
        elif what == "greet" and "'Hello" in outputs and "not 'Hola" in outputs:
            suggestion[name] = FIXES["greet"]
        elif name.startswith("instruct2") and "The name is" in outputs:
            suggestion[name] = "Extract the person's name. Reply with only the name."
    return json.dumps({"reasoning": "fix what the feedback shows is wrong", "suggestion": suggestion})


def stand_in(messages: list[dict[str, Any]], **params: Any) -> str:
    text = "\n".join(str(m["content"]) for m in messages if m["role"] != "assistant")
    optimizing = "#Variables" in text or "#Variable\n" in text or "#Operation" in text
    return _optimizer_reply(text) if optimizing else _agent_reply(messages[-1]["content"])


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> SalesAgent:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", help="backend for the agent and the optimizer, e.g. openai/gpt-4o-mini or local")
    parser.add_argument("--optimizer", choices=["optoprime", "textgrad", "opro"], default="optoprime")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=3)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    llm = resolve(args.llm) if args.llm else FunctionLLM(stand_in, name="sales-agent-stand-in")
    if not args.llm:
        print("note: a scripted stand-in (FunctionLLM) plays the model, offline; its answers are written in this file, not learned -- pass --llm local or --llm openai/gpt-4o-mini for a real model")
    agent = SalesAgent()
    cls = {"optoprime": OptoPrime, "textgrad": TextGrad, "opro": OPRO}[args.optimizer]
    optimizer = cls(agent.parameters(), llm=llm, memory_size=3)
    with use(llm), track_usage() as usage:
        history = train(agent, TRAIN, feedback, optimizer, epochs=args.epochs, batch_size=args.batch_size,
                        valset=VAL, target_score=1.0, verbose=not args.verbose)  # fmt: skip
    print(history)
    print(f"\nbest validation score {history.best_score}; {usage.calls} LLM calls, {usage.total_tokens} tokens")
    for name, value in agent.state_dict().items():
        print(f"\n{name}:\n{value}")
    with use(llm):
        print("\n" + "\n".join(f"{q!r} -> {agent(q).data!r}" for q, _ in VAL))
    return agent


if __name__ == "__main__":
    main()
