"""One suggestion per step (OptoPrime) vs the search trainers, at the same LLM-call budget.

    python bench/bench_search.py                        # 7 tasks, the embedded local model
    python bench/bench_search.py --quick                # 3 tasks, a smaller budget
    python bench/bench_search.py --llm openai/gpt-4o-mini --budget 12
    python bench/bench_search.py --methods optoprime beam --tasks number linear
    python bench/bench_search.py --table bench/bench_search.jsonl   # print saved results
    python bench/bench_search.py --table run.jsonl --save           # save them to bench/results/

Seven small tasks, each with an automatic score in [0, 1] and a "solved" test: a number to
hit a target, a linear fit (two numbers), a sentiment instruction (the agent is the same
model, answering under a Choice constraint), a format template, an off-by-one function and a
function that raises (code parameters), a two-step greeting agent (two code parameters).
Every method gets a fresh copy of the task and a ``Budget(calls=N)`` that counts *every*
provider call of the run -- the optimizer's and the agent's; cached answers are free. The
optimizer is OptoPrime with schema-constrained replies (``max_reasks=0``); ``optoprime`` is
``train(trainer="step")`` (one suggestion per step), the others are ``BeamSearch`` (best-of-k,
``beam_width=1``), ``PrioritySearch`` and ``GEPA`` with the same OptoPrime.

Answers go through a disk cache (``--cache``), one per method so that no method gets another's
answers for free; a rerun is free and reproducible (a cached rerun reports 0 calls). Results are appended as JSON lines to ``--out`` and printed as a table.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _results import save

import trace_opt as trace  # noqa: E402
from optimizers import GEPA, BeamSearch, Budget, OptoPrime, PrioritySearch, evaluate, train  # noqa: E402
from trace_opt.llm import LLM, Cache, LocalLLM, resolve, select, track_usage, use_cache  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import save  # noqa: E402

Task = dict[str, Any]


def _close(out: Any, want: Any) -> float:
    if not isinstance(out, (int, float)) or isinstance(out, bool):
        return 0.0
    return max(0.0, 1.0 - abs(out - want) / max(1.0, abs(want)))


def number_task(llm: LLM) -> Task:
    x = trace.node(0.0, trainable=True, name="x", description="a number")

    def fb(_: Any, out: Any, want: float) -> tuple[float, str]:
        hint = "increase x" if out < want else "decrease x"
        return _close(out, want), f"The output is {out}; it should be {want}. {hint}." if abs(out - want) > 0.05 else "Correct."

    return dict(params=[x], agent=lambda _: x * 1.0, data=[(None, 7.3)], fb=fb, solved=lambda s: s >= 0.99)


def linear_task(llm: LLM) -> Task:
    a = trace.node(1.0, trainable=True, name="a", description="the slope")
    b = trace.node(0.0, trainable=True, name="b", description="the intercept")

    def fb(x: float, out: Any, want: float) -> tuple[float, str]:
        ok = abs(out - want) <= 0.1
        return _close(out, want), "Correct." if ok else f"For input {x} the output is {out}, expected {want}."

    data = [(x, 3.0 * x - 2.0) for x in (0.0, 1.0, 2.0, 4.0)]
    return dict(params=[a, b], agent=lambda x: a * x + b, data=data, fb=fb, solved=lambda s: s >= 0.97)


REVIEWS = [("I loved it, wonderful film!", "positive"), ("Terrible, a waste of money.", "negative"),
           ("Great service and friendly staff.", "positive"), ("The food was cold and awful.", "negative")]  # fmt: skip


def sentiment_task(llm: LLM) -> Task:
    instruction = trace.node("Answer with the opposite of the sentiment of the text.", trainable=True,
                             name="instruction", description="the instruction given to the classifier")  # fmt: skip

    def agent(text: str) -> Any:
        return select(instruction + "\nText: " + text, ["positive", "negative"], llm=llm, temperature=0.0,
                      max_reasks=0)  # fmt: skip

    def fb(text: str, out: Any, want: str) -> tuple[float, str]:
        return (1.0, "Correct.") if out == want else (0.0, f"For {text!r} the answer was {out}, expected {want}.")

    return dict(params=[instruction], agent=agent, data=REVIEWS, fb=fb, solved=lambda s: s >= 1.0)


def template_task(llm: LLM) -> Task:
    template = trace.node("{name} {age}", trainable=True, name="template",
                          description="a str.format template with fields {name} and {age}")  # fmt: skip

    @trace.bundle()
    def render(template: str, person: dict[str, Any]) -> str:
        """Fill the template with the person's fields."""
        try:
            return template.format(**person)
        except (KeyError, IndexError, ValueError) as e:
            return f"<format error: {e}>"

    def fb(person: dict[str, Any], out: Any, want: str) -> tuple[float, str]:
        if out == want:
            return 1.0, "Correct."
        return difflib.SequenceMatcher(None, out, want).ratio() * 0.9, f"The output is {out!r}, expected {want!r}."

    data = [({"name": "Alice", "age": 30}, "Name: Alice, Age: 30"), ({"name": "Bob", "age": 4}, "Name: Bob, Age: 4")]
    return dict(params=[template], agent=lambda p: render(template, p), data=data, fb=fb, solved=lambda s: s >= 1.0)


def _code_fb(name: str) -> Callable[[Any, Any, Any], tuple[float, str]]:
    def fb(x: Any, out: Any, want: Any) -> tuple[float, str]:
        return (1.0, "Correct.") if out == want else (0.0, f"{name}({x!r}) returned {out!r}, expected {want!r}.")

    return fb


def off_by_one_task(llm: LLM) -> Task:
    @trace.bundle(trainable=True)
    def count_to(n):
        """Return the list of the numbers from 1 to n, both included."""
        return list(range(n))

    data = [(n, list(range(1, n + 1))) for n in (1, 3, 5)]
    return dict(params=[count_to.parameter], agent=count_to, data=data, fb=_code_fb("count_to"), solved=lambda s: s >= 1.0)


def raises_task(llm: LLM) -> Task:
    @trace.bundle(trainable=True)
    def double(x):
        """Return twice x."""
        return x * factor  # noqa: F821 - the bug to repair

    data = [(n, 2 * n) for n in (1, 4, -3)]
    return dict(params=[double.parameter], agent=double, data=data, fb=_code_fb("double"), solved=lambda s: s >= 1.0)


def greeting_task(llm: LLM) -> Task:
    @trace.bundle(trainable=True)
    def detect_lang(message):
        """Return "es" for a Spanish message, "en" for an English one."""
        return "en"

    @trace.bundle(trainable=True)
    def greet(lang, name):
        """Greet the person in their language: "Hola, <name>!" in Spanish, "Hello, <name>!" in English."""
        return "Hello " + name

    def agent(x: tuple[str, str]) -> Any:
        message, name = x
        return greet(detect_lang(message), name)

    data = [(("Hola, soy Juan.", "Juan"), "Hola, Juan!"), (("Hi, I am Alice.", "Alice"), "Hello, Alice!"),
            (("Buenos dias, me llamo Ana.", "Ana"), "Hola, Ana!")]  # fmt: skip
    params = [detect_lang.parameter, greet.parameter]
    return dict(params=params, agent=agent, data=data, fb=_code_fb("agent"), solved=lambda s: s >= 1.0)


TASKS: dict[str, Callable[[LLM], Task]] = {
    "number": number_task, "linear": linear_task, "sentiment": sentiment_task, "template": template_task,
    "off_by_one": off_by_one_task, "raises": raises_task, "greeting": greeting_task,
}  # fmt: skip
QUICK = ["number", "linear", "off_by_one"]


def run_method(method: str, name: str, llm: LLM, calls: int, k: int) -> dict[str, Any]:
    task = TASKS[name](llm)
    code = any(isinstance(p, trace.CodeParameter) for p in task["params"])
    opt = OptoPrime(task["params"], llm=llm, max_reasks=0, max_tokens=220 if code else 120, max_prompt_tokens=1500,
                    memory_size=3)  # fmt: skip
    agent, data, fb = task["agent"], task["data"], task["fb"]
    before = evaluate(agent, data, fb, concurrency=1)
    t0 = time.perf_counter()
    with track_usage() as usage:
        if method == "optoprime":
            with track_usage(max_calls=calls):
                log = train(agent, data, fb, opt, trainer="step", epochs=calls, batch_size=len(data), concurrency=1,
                            target_score=1.0)  # fmt: skip
        else:
            trainer = {"beam": BeamSearch(k=k, beam_width=1), "priority": PrioritySearch(k=k),
                       "gepa": GEPA(k=k)}[method]  # fmt: skip
            log = trainer.train(agent, data, fb, opt, steps=calls, batch_size=len(data), concurrency=1,
                                budget=Budget(calls=calls), target_score=1.0)  # fmt: skip
    skipped = [str(r.get("note", "")) for r in log if str(r.get("note", "")).startswith("skipped")]
    seconds = time.perf_counter() - t0
    after = evaluate(agent, data, fb, concurrency=1)
    values = {p.name: p.data for p in task["params"]}
    return {"task": name, "method": method, "budget": calls, "before": before, "after": after,
            "solved": bool(task["solved"](after)), "calls": usage.calls, "cached": usage.cached_calls,
            "tokens": usage.total_tokens, "seconds": round(seconds, 1), "skipped": len(skipped),
            "skip_reasons": sorted({r.split(":")[1].strip() for r in skipped if ":" in r}),
            "values": {k: str(v)[:200] for k, v in values.items()}}  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    """Rows as a text table; ``calls`` is provider calls, ``+Nc`` answers served by the cache."""
    head = ["task", "method", "solved", "before", "after", "calls", "budget", "tokens", "seconds"]
    cells = [head] + [[str(r["task"]), str(r["method"]), "yes" if r["solved"] else "no", f"{r['before']:.2f}",
                       f"{r['after']:.2f}", str(r["calls"]) + (f"+{r['cached']}c" if r["cached"] else ""), str(r["budget"]), str(r["tokens"]), f"{r['seconds']:.0f}"]
                      for r in rows]  # fmt: skip
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    solved = {}
    for r in rows:
        solved.setdefault(r["method"], []).append(r["solved"])
    lines.append("")
    lines += [f"{m}: {sum(s)}/{len(s)} solved" for m, s in solved.items()]
    return "\n".join(lines)


def _save(rows: list[dict[str, Any]], llm: str, budget: int, k: int) -> None:
    """Save ``rows`` and a per-method summary to ``bench/results/bench_search.json``."""
    summary = {m: {"solved": sum(r["solved"] for r in rows if r["method"] == m),
                   "tasks": sum(r["method"] == m for r in rows),
                   "calls": sum(r["calls"] for r in rows if r["method"] == m),
                   "cached": sum(r["cached"] for r in rows if r["method"] == m),
                   "skipped_steps": sum(r.get("skipped", 0) for r in rows if r["method"] == m)}
               for m in dict.fromkeys(r["method"] for r in rows)}  # fmt: skip
    save("bench_search", {"llm": llm, "budget": budget, "k": k, "summary": summary, "rows": rows},
         notes="calls: provider calls within the budget; cached: answers from the run's own cache (free); "
               "skipped_steps: steps logged as skipped because their proposals failed")  # fmt: skip


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", default="local", help="the backend: 'local' (default) or a model string")
    parser.add_argument("--quick", action="store_true", help=f"only {QUICK}, budget 4")
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), help="the tasks to run (default: all)")
    parser.add_argument("--methods", nargs="+", default=["optoprime", "beam", "priority", "gepa"],
                        choices=["optoprime", "beam", "priority", "gepa"])  # fmt: skip
    parser.add_argument("--budget", type=int, default=None, help="LLM calls per task and method (default 6; quick 4)")
    parser.add_argument("--k", type=int, default=3, help="candidates per expansion for the search trainers")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "trace_opt_bench"), help="LLM cache directory")
    parser.add_argument("--out", default="bench/bench_search.jsonl", help="append results here as JSON lines")
    parser.add_argument("--table", metavar="JSONL", help="only print the table of results saved in JSONL")
    parser.add_argument("--save", action="store_true", help="with --table: save those rows to bench/results/")
    args = parser.parse_args(argv)
    if args.table:
        saved = [json.loads(line) for line in Path(args.table).read_text(encoding="utf-8").splitlines() if line.strip()]
        sys.stdout.write(table(saved) + "\n")
        if args.save:  # e.g. the rows of a run that was stopped before its end
            _save(saved, saved[0].get("llm", args.llm) if saved else args.llm, saved[0]["budget"] if saved else 0, args.k)
        return saved
    logging.basicConfig(level=logging.WARNING)
    llm = LocalLLM(n_ctx=2048) if args.llm == "local" else resolve(args.llm)
    tasks = args.tasks or (QUICK if args.quick else list(TASKS))
    budget = args.budget or (4 if args.quick else 6)
    rows = []
    for name in tasks:
        for method in args.methods:
            calls = budget * 4 if name == "sentiment" else budget  # its agent calls the model too
            # one cache per method: a method must not get another's answers for free
            with use_cache(Cache(Path(args.cache) / method)):
                row = run_method(method, name, llm, calls, args.k)
                rows.append(row)
            sys.stderr.write(json.dumps(row) + "\n")
            with open(args.out, "a", encoding="utf-8") as f:
                f.write(json.dumps({**row, "llm": args.llm, "time": time.time()}) + "\n")
    sys.stdout.write(table(rows) + "\n")
    _save(rows, args.llm, budget, args.k)
    return rows


if __name__ == "__main__":
    main()
