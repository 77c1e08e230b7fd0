"""Train a sentiment classifier's instruction end to end on the embedded model -- the README's first command.

    python examples/demo.py                                   # SmolLM2-135M on this CPU, offline
    TRACE_OPT_LLM=openai/gpt-4o-mini python examples/demo.py  # a hosted model (needs OPENAI_API_KEY)
    python examples/demo.py --steps 1 --k 2                   # less work

The agent labels a review ``positive`` or ``negative``: one LLM call whose reply is held to
those two words by a ``Choice`` constraint (on the local model, by its grammar while
decoding). The instruction in front of the review is the trainable parameter, and it starts
wrong on purpose ("Answer negative."). Each step, OPRO is shown the instruction, the score and
the feedback on the 4 reviews and asked for k new instructions; a best-of-k search
(``BeamSearch(beam_width=1)``) scores each candidate on the reviews and keeps the best. On
the embedded model the optimizer picks among 6 written instructions (a ``Choice`` constraint
on the parameter, which its reply is decoded under); a hosted model writes its own.

Everything lands in ``./runs/<run-id>/``: ``store.db`` (parameter versions and two recorded
runs, before and after training -- see ``trace-opt runs``), ``history.json`` and
``steps.txt``, ``graph.svg`` (or ``graph.dot`` without graphviz) and ``report.html``. LLM
answers are cached in ``./runs/llm-cache`` (or ``$TRACE_OPT_CACHE_DIR``), so a second run
answers every call from disk: instant, and the same result.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import trace_opt as trace
from optimizers import OPRO, BeamSearch
from optimizers.bars import StepBar
from trace_opt import errors
from trace_opt.llm import LLM, Cache, LocalLLM, generate_text, resolve, track_usage, use, use_cache
from trace_opt.secrets import redact, redact_text
from trace_opt.report import ReportData, graph_picture, steps_from_log, write_report
from trace_opt.store import Store, use_store

LABELS = ["positive", "negative"]
START = "Answer negative."
REVIEWS = [
    ("I loved it, wonderful film!", "positive"),
    ("Terrible, a waste of money.", "negative"),
    ("Great service and friendly staff.", "positive"),
    ("The food was cold and awful.", "negative"),
]
# On the embedded model the instruction is picked from these (a Choice constraint on the
# parameter: the optimizer's reply is decoded under it, so a 135M model cannot write nonsense).
MENU = sorted([  # alphabetical: the order is not a hint
    START,
    "Answer with one word.",
    "Answer with one word: the sentiment of the review.",
    "Did the customer like it? Answer positive if yes, negative if no.",
    "Is the review positive or negative?",
    "Label the sentiment of the review.",
])
OBJECTIVE = "an instruction that makes a small model label the sentiment of each review correctly, as positive or negative"
BIGGER = """\
What a bigger model adds: SmolLM2-135M (135M parameters, on this CPU) follows a short
instruction and, held by a Choice constraint, always answers with a valid label. As an
optimizer it cannot write a useful instruction itself (try --instructions free: it mostly
writes noise), so here it picks among 6 written ones, and the progress comes from the search:
k candidates per step, each scored, only a better one kept. A hosted model reads the feedback
and writes its own instruction (free text is its default), and can train code and
multi-step agents:  TRACE_OPT_LLM=openai/gpt-4o-mini python examples/demo.py"""


@trace.bundle()
def classify(instruction: str, review: str) -> str:
    """Label the review's sentiment by following the instruction (one LLM call, reply held to the labels)."""
    prompt = f"{instruction}\n\nReview: {review}\nSentiment:"
    return generate_text(prompt, constraint=trace.Choice(LABELS), temperature=0.0, max_tokens=6).data  # type: ignore[no-any-return]


@trace.model
class SentimentClassifier:
    def __init__(self, instruction: str = START, menu: list[str] | None = None) -> None:
        self.instruction = trace.node(instruction, trainable=True, name="instruction",
                                      description="the instruction the sentiment classifier follows",
                                      constraint=trace.Choice(menu) if menu else None)  # fmt: skip

    def __call__(self, review: str) -> Any:
        return classify(self.instruction, review)


def feedback(review: str, label: Any, want: str) -> tuple[float, str]:
    if label == want:
        return 1.0, f"Correct: {review!r} is {want}."
    return 0.0, f"Wrong: {review!r} is {want}, but the answer was {label}."


class Progress:
    """The step table on stdout and, on a terminal, the library's progress bar on stderr
    (``optimizers.bars``, tqdm) with the LLM calls so far, redrawn from a thread while a step runs."""

    COLUMNS = ["step", "score", "best", "tried", "tokens", "time", "what changed"]
    WIDTHS = [4, 5, 5, 5, 7, 6, 0]

    def __init__(self, steps: int, usage: Any) -> None:
        self.steps, self.usage = steps, usage
        self.lines: list[str] = []
        self.bar = StepBar("train", steps, enabled=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def calls(self) -> int:
        return int(self.usage.calls + self.usage.cached_calls)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self.bar.note(f"{self.calls()} LLM calls")

    def row(self, cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, self.WIDTHS)).rstrip()

    def start(self) -> None:
        self.lines.append(self.row(self.COLUMNS))
        print(self.lines[-1], flush=True)
        if sys.stderr.isatty():
            self.bar = StepBar("train", self.steps, enabled=True)
            self._thread.start()

    def step(self, record: dict[str, Any], cells: list[str]) -> None:
        self.lines.append(self.row(cells))
        with self.bar.paused():
            print(self.lines[-1], flush=True)
        self.bar.step({"step": record["step"], "best": record.get("best"), "calls": self.calls()})

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.bar.close()


def _clip(text: Any, n: int = 60) -> str:
    one = " ".join(str(text).split())
    return one if len(one) <= n else one[: n - 1] + "…"


def _evaluate(agent: SentimentClassifier, store: Store, name: str) -> tuple[float, list[Any]]:
    """Label every review inside a recorded run (``trace-opt show``); returns the score and outputs."""
    with trace.record(store) as run:
        run.meta.update(name=name, program="examples/demo.py:classify")
        outputs = [agent(review) for review, _ in REVIEWS]
    scores = [feedback(r, out.data, want)[0] for (r, want), out in zip(REVIEWS, outputs)]
    return sum(scores) / len(scores), outputs


def pick_llm(spec: str | None) -> tuple[LLM, str]:
    spec = spec or os.environ.get("TRACE_OPT_LLM") or "local"
    return resolve(spec), spec


def main(argv: list[str] | None = None, llm: LLM | None = None) -> dict[str, Any]:
    """Run the demo; ``llm`` overrides ``--llm`` (tests pass a scripted ``FunctionLLM``). Returns a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", help="backend: local (default), or a model like openai/gpt-4o-mini (env TRACE_OPT_LLM)")
    parser.add_argument("--steps", type=int, default=3, help="search steps (default 3; it stops early at a perfect score)")
    parser.add_argument("--k", type=int, default=3, help="candidate instructions per step (default 3)")
    parser.add_argument("--instructions", choices=["menu", "free"],
                        help="menu: pick among 6 written instructions (default on the local model); free: write any")
    parser.add_argument("--runs", default="runs", help="folder for the run folders (default ./runs)")
    parser.add_argument("--run-id", help="name of this run's folder (default: demo-<date>-<time>)")
    parser.add_argument("--cache-dir", help="LLM cache (default $TRACE_OPT_CACHE_DIR, else <runs>/llm-cache)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.k < 1:
        parser.error("--steps and --k must be >= 1")
    backend, spec = (llm, getattr(llm, "model", "custom")) if llm is not None else pick_llm(args.llm)
    local = isinstance(backend, LocalLLM)
    menu = MENU if (args.instructions or ("menu" if local else "free")) == "menu" else None
    run_id = args.run_id or time.strftime("demo-%Y%m%d-%H%M%S")
    folder = Path(args.runs) / run_id
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    cache = Cache(args.cache_dir or os.environ.get("TRACE_OPT_CACHE_DIR") or Path(args.runs) / "llm-cache")
    print(f"trace_opt demo: train a sentiment classifier's instruction on {backend.model}"
          + (f" ({spec})" if spec != backend.model else ""))
    print(f"  {len(REVIEWS)} reviews, {args.steps} step{'s' * (args.steps != 1)} x {args.k} candidates, "
          + (f"instruction picked among {len(menu)}" if menu else "instruction written freely") + f"; files in {folder}/")
    if local:
        print("  the embedded model runs on this CPU: a cold run takes about half a minute, a cached one about a second")
        print("  (a hosted model instead: TRACE_OPT_LLM=openai/gpt-4o-mini python examples/demo.py)")
    print()

    try:
        return _run(args, backend, spec, local, menu, run_id, folder, cache)
    except KeyboardInterrupt:
        answered = cache.stats.misses  # every answered call was written to the cache
        raise errors.TrainingInterrupted(
            f"{folder}/store.db keeps the parameter versions so far, and the LLM cache {cache.path.parent if cache.path else ''} "
            f"keeps {answered} answered call{'s' * (answered != 1)}; to resume, run python examples/demo.py again: "
            "cached answers come back at once"
        ) from None
    except BaseException:
        if created and not (folder / "steps.txt").exists():  # nothing worth keeping: no empty demo-* folders
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _run(args: argparse.Namespace, backend: LLM, spec: str, local: bool, menu: list[str] | None, run_id: str,
         folder: Path, cache: Cache) -> dict[str, Any]:  # fmt: skip
    """Train, evaluate and write every file (``main`` has checked the arguments)."""
    store = Store(folder / "store.db")
    agent = SentimentClassifier(menu=menu)
    initial = agent.state_dict()
    optimizer = OPRO(agent.parameters(), llm=backend, objective=OBJECTIVE, memory_size=6,
                     max_reasks=0 if local else 1, max_tokens=120 if local else 400)  # fmt: skip
    records: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    with use(backend), use_cache(cache), use_store(store), track_usage() as usage:
        store.commit_parameters(agent, "initial")
        before, _ = _evaluate(agent, store, "before training")
        progress = Progress(args.steps, usage)
        last = {"time": time.perf_counter(), "values": dict(initial)}

        def on_step(record: dict[str, Any]) -> None:
            values = store.history(agent)[0].state()
            memory = optimizer.memory[0]
            now = time.perf_counter()
            took = now - last["time"]
            changed = {k: v for k, v in values.items() if v != last["values"].get(k)}
            what = "; ".join(f"{k} -> {_clip(repr(v), 48)}" for k, v in changed.items()) or "-"
            records.append({**record, "seconds": took, "values": values, "what": what,
                            "feedback": str(memory[-1]["feedback"]).splitlines() if memory else []})  # fmt: skip
            last.update(time=now, values=values)
            best = record.get("best")
            progress.step(record, [str(record["step"]), f"{record.get('batch_score') or 0:.3f}", f"{best or 0:.3f}",
                           str(record.get("candidates", "-")), str(record.get("tokens", 0)), f"{took:.0f}s", what])  # fmt: skip

        progress.start()
        try:
            log = BeamSearch(k=args.k, beam_width=1, temperature=1.0).train(
                agent, REVIEWS, feedback, optimizer, steps=args.steps, batch_size=len(REVIEWS),
                concurrency=1 if local else 4, target_score=1.0, store=store, callback=on_step)  # fmt: skip
        finally:
            progress.stop()
        after, outputs = _evaluate(agent, store, "after training")
        for (review, want), out in zip(REVIEWS, outputs):
            out.backward(feedback(review, out.data, want)[1])
    seconds = time.perf_counter() - t_start

    # The search logs parameters by node name (instruction_4); say what the console and
    # state_dict say (instruction) everywhere this run writes.
    names = {key: name for name, p in agent.named_parameters() for key in (p.name, p.py_name)}
    for r in records:
        tried = [c for c in log.candidates if c.get("step") == r["step"] and c.get("status") != "initial"]
        for c in tried:
            c["values"] = {names.get(k, k): v for k, v in (c.get("values") or {}).items()}
        r["changed"] = [names.get(k, k) for k in r.get("changed") or []]
        r["tried"] = [f"{c.get('status')}: {_clip(json.dumps(c.get('values'), ensure_ascii=False), 90)}"
                      + (f" -> {c['batch_score']:.3f}" if isinstance(c.get("batch_score"), float) else "") for c in tried]  # fmt: skip
    final = agent.state_dict()
    svg, dot = graph_picture(outputs, rankdir="LR", names={p: name for name, p in agent.named_parameters()})
    graph_file = folder / ("graph.svg" if svg else "graph.dot")
    graph_file.write_text(svg or dot, encoding="utf-8")
    versions = [{"ref": v.ref.digest, "message": v.message, "changed": list(v.changed), "values": v.state()}
                for v in reversed(store.history(agent))]  # fmt: skip
    stats = cache.stats
    summary = {"run_id": run_id, "llm": spec, "model": backend.model, "score_before": before, "score_after": after,
               "initial": initial, "final": final, "steps": records, "versions": versions, "seconds": seconds,
               "llm_calls": usage.calls, "cache": {"hits": stats.hits, "misses": stats.misses, "path": str(cache.path)},
               "stop": log.stop}  # fmt: skip
    # files to share: known secrets (trace_opt.secrets) are redacted
    (folder / "history.json").write_text(json.dumps(redact(summary), indent=2, ensure_ascii=False, default=repr), encoding="utf-8")
    (folder / "steps.txt").write_text(redact_text("\n".join(progress.lines)) + "\n", encoding="utf-8")
    report = ReportData(
        title=f"trace_opt demo: sentiment instruction trained on {backend.model}",
        steps=steps_from_log([{"step": 0, "score": before, "best": before, "values": initial, "note": "before training"},
                              *({**r, "candidates": r["tried"]} for r in records)]),
        initial=initial, final=final, graph_svg=svg, graph_dot=None if svg else dot,
        meta={"run": run_id, "backend": spec, "search": f"BeamSearch(k={args.k}, beam_width=1, temperature=1.0) with OPRO",
              "instructions": "picked from a menu of 6" if menu else "free text",
              "data": f"{len(REVIEWS)} reviews", "score": f"{before:.3f} -> {after:.3f}",
              "LLM cache": f"{stats.hits} hits, {stats.misses} misses"}, seconds=seconds)  # fmt: skip
    write_report(folder / "report.html", report)
    store.close()

    stopped = f"; stopped after step {len(records)}: {log.stop}" if log.stop else ""
    print(f"\nscore {before:.3f} -> {after:.3f} in {seconds:.0f} s ({usage.calls} LLM calls, {usage.total_tokens} tokens){stopped}")
    print("final parameters:")
    for name, value in final.items():
        print(f"  {name} = {value!r}" + ("  (unchanged)" if value == initial.get(name) else f"  (was {initial[name]!r})"))
    print(f"\nLLM cache {cache.path.parent if cache.path else 'memory'}: {stats.hits} hits, {stats.misses} misses"
          + ("  -- everything came from the cache, so this run took seconds and matches the first"
             if stats.hits and not stats.misses else "  -- run it again: every answer now comes from the cache"))  # fmt: skip
    print(f"\nfiles in {folder}/: store.db, history.json, steps.txt, {graph_file.name}, report.html")
    for command, what in [(f"open {folder / 'report.html'}", "the run report (one HTML file, no server)"),
                          ("trace-opt runs", "recorded runs: before and after training"),
                          ("trace-opt show latest", "the trained classifier's calls, inputs and outputs"),
                          ("trace-opt history --diff", "parameter versions and what each changed"),
                          ("trace-opt replay latest --from 4 --program examples/demo.py:classify", "")]:
        print(f"  {command:<48} {what}".rstrip())
    if local:
        print("\n" + BIGGER)
    return summary


def _hint(error: BaseException) -> str:
    """What to do about ``error``, by its type (not every failure is the API key)."""
    if isinstance(error, errors.AuthenticationError):
        return "set the key the message names (e.g. export OPENAI_API_KEY=...), or run on the embedded model: --llm local"
    if isinstance(error, errors.BackendUnavailable):
        return "install what the message names (bash .ci/install installs everything), or pick another --llm"
    if isinstance(error, errors.TransientLLMError):
        return "the provider did not answer: check the network and the provider's status, then run again"
    if isinstance(error, errors.PermanentLLMError):
        return "check the model name (--llm provider/model) and the provider's limits, or run with --llm local"
    return "run with TRACE_OPT_DEBUG=1 to see the traceback"


def cli(argv: list[str] | None = None, llm: LLM | None = None) -> int:
    """``python examples/demo.py``: :func:`main` with failures as one line and an exit code
    (1 for an error, 130 for Ctrl-C) instead of a traceback."""
    try:
        main(argv, llm)
    except KeyboardInterrupt as e:
        detail = str(e) if isinstance(e, errors.TrainingInterrupted) else "nothing was saved"
        print(f"demo: interrupted: {detail}", file=sys.stderr)
        return 130
    except trace.TraceOptError as e:  # a missing API key, an unreachable provider...: one line, not a traceback
        if os.environ.get("TRACE_OPT_DEBUG"):
            raise
        cause = e.exception if isinstance(e, trace.ExecutionError) else e
        print(f"demo: error: {str(cause).splitlines()[0]} (help: {_hint(cause)})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli())
