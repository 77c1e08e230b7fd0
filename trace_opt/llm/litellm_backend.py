"""Every hosted provider through litellm, imported only when the first call is made.

litellm's own exceptions are mapped onto the trace_opt tree here, in one table, so the retry
logic only ever sees ``TransientLLMError`` / ``PermanentLLMError``. litellm's cache is not used
(it needs fastapi on a hit); ours sits in front. Its built-in retries are turned off
(``max_retries=0``) so a failure is retried once, by us, with our backoff and budget.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ..errors import (
    AuthenticationError,
    BackendUnavailable,
    BadRequestError,
    ContextWindowExceeded,
    LLMConnectionError,
    LLMError,
    LLMTimeout,
    ModelNotFound,
    RateLimitError,
)
from ..secrets import logger
from .base import LLM
from .request import Request
from .response import LLMResponse, Usage

__all__ = ["LiteLLM"]

log = logger(__name__)

# litellm class name -> our error; the first name found along the exception's MRO wins, so
# subclasses (ContextWindowExceededError < BadRequestError) are listed on their own.
_BY_NAME: dict[str, type[LLMError]] = {
    "APIConnectionError": LLMConnectionError,
    "AuthenticationError": AuthenticationError,
    "BadGatewayError": LLMConnectionError,
    "BadRequestError": BadRequestError,
    "ContentPolicyViolationError": BadRequestError,
    "ContextWindowExceededError": ContextWindowExceeded,
    "InternalServerError": LLMConnectionError,
    "NotFoundError": ModelNotFound,
    "PermissionDeniedError": AuthenticationError,
    "RateLimitError": RateLimitError,
    "ServiceUnavailableError": LLMConnectionError,
    "Timeout": LLMTimeout,
    "UnprocessableEntityError": BadRequestError,
    "UnsupportedParamsError": BadRequestError,
}

_HINTS: dict[type[LLMError], str] = {
    AuthenticationError: "set the provider's API key (e.g. OPENAI_API_KEY) or pass api_key=",
    BadRequestError: "check the model's supported parameters and the message format",
    ContextWindowExceeded: "shorten the prompt or pick a model with a longer context",
    ModelNotFound: "check the model string, e.g. 'openai/gpt-4o-mini' (see litellm's provider list)",
}


def _by_status(status: Any) -> type[LLMError] | None:
    if not isinstance(status, int):
        return None
    if status == 429:
        return RateLimitError
    if status == 408:
        return LLMTimeout
    if status >= 500:
        return LLMConnectionError
    if status in (401, 403):
        return AuthenticationError
    if status == 404:
        return ModelNotFound
    if 400 <= status < 500:
        return BadRequestError
    return None


def map_litellm_error(exc: Exception, model: str, *, key_given: bool = False) -> Exception:
    """Our typed error for a litellm / openai exception (unchanged if it is not one).

    ``key_given``: an ``api_key=`` was passed, so the environment's keys do not matter."""
    if isinstance(exc, LLMError):
        return exc
    origin = type(exc).__module__.split(".")[0]
    if origin not in ("litellm", "openai", "httpx"):
        return exc
    kind = next((_BY_NAME[c.__name__] for c in type(exc).__mro__ if c.__name__ in _BY_NAME), None)
    kind = kind or _by_status(getattr(exc, "status_code", None)) or LLMConnectionError
    message = str(getattr(exc, "message", "") or exc)
    key_error = _key_error(kind, model, message, key_given)
    if key_error is not None:
        # The provider's own chain (60+ lines inside litellm) says nothing the one line does not.
        exc.__traceback__ = None
        exc.__suppress_context__ = True
        return key_error
    err = kind(f"{model}: {message}", provider_message=message, hint=_HINTS.get(kind))
    retry_after = _retry_after(exc)
    if retry_after is not None:
        err.retry_after = retry_after  # type: ignore[attr-defined]
    return err


def _key_error(kind: type[LLMError], model: str, message: str, key_given: bool) -> AuthenticationError | None:
    """A missing or rejected key as one permanent line naming the variable to set, else None.

    litellm reports a missing key as a provider-specific error (for OpenAI a synthesized 500,
    which would be retried), so a failure is checked against litellm's own list of the
    variables the model needs before it is called a connection problem."""
    if kind not in (AuthenticationError, LLMConnectionError):
        return None
    missing = [] if key_given else _missing_keys(model)
    if missing:
        names = " or ".join(missing)
        return AuthenticationError(
            f"{model}: no API key: set {names}",
            provider_message=message,
            hint=f"export {missing[0]}=... before starting Python, or pass api_key= to the backend",
        )
    if kind is AuthenticationError:
        first = message.strip().splitlines()[0] if message.strip() else "no detail"
        return AuthenticationError(
            f"{model}: the provider rejected the API key ({first})",
            provider_message=message,
            hint=f"check {_key_variable(model)} (or the api_key= you pass)",
        )
    return None


def _missing_keys(model: str) -> list[str]:
    try:
        found = _litellm().validate_environment(model=model)
    except Exception:  # litellm raises for models it cannot place; then we know nothing more
        return []
    return [str(k) for k in found.get("missing_keys") or [] if str(k).endswith("_KEY")]


def _key_variable(model: str) -> str:
    try:
        provider = str(_litellm().get_llm_provider(model)[1])
    except Exception:  # an unknown provider: name the usual one
        provider = model.split("/", 1)[0] if "/" in model else "openai"
    return f"{provider.upper()}_API_KEY"


def _retry_after(exc: Exception) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    try:
        value = headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError, AttributeError):
        return None


_import_lock = threading.Lock()


def _litellm() -> Any:
    """Import litellm once, quietly and without reaching for the network."""
    with _import_lock:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        try:
            import litellm
        except ImportError as e:
            raise BackendUnavailable(
                "litellm is not installed", hint="pip install 'trace-opt-lib[llm]' (or pip install litellm)"
            ) from e
        litellm.suppress_debug_info = True
        litellm.telemetry = False
        return litellm


class LiteLLM(LLM):
    """A hosted model through litellm: ``LiteLLM("openai/gpt-4o-mini", temperature=0)``.

    Credentials come from the provider's usual environment variables or ``api_key=`` /
    ``api_base=``; those are sent but never cached or stored. ``mock_response="..."`` is passed
    through to litellm, which answers without any network (useful in tests).

    >>> from trace_opt.llm import LiteLLM
    >>> LiteLLM("openai/gpt-4o-mini", mock_response="hi").complete("hello").text
    'hi'
    """

    kind = "litellm"
    native_timeout = True

    def __init__(self, model: str, **kwargs: Any) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"Invalid model: {model!r}\nhelp: pass a litellm model string like 'openai/gpt-4o-mini'")
        super().__init__(**kwargs)
        self._model = model.strip()

    @property
    def model(self) -> str:
        return self._model

    def _kwargs(self, request: Request) -> dict[str, Any]:
        kw: dict[str, Any] = {"max_retries": 0, **request.params, **request.transport}
        timeout = request.timeout or self.timeout
        if timeout is not None:
            kw["timeout"] = timeout
        schema = _json_schema(request.constraint)
        if schema is not None and "response_format" not in kw and self._supports_schema():
            kw["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
        messages = [dict(m) for m in request.messages]
        prefill = kw.pop("prefill", None)
        if prefill:
            # The reply continues this text: providers that support assistant prefill
            # (Anthropic, many open models) continue it; others treat it as a prior turn.
            messages.append({"role": "assistant", "content": prefill})
        return {"model": self._model, "messages": messages, **kw}

    def _supports_schema(self) -> bool:
        try:
            return bool(_litellm().supports_response_schema(model=self._model))
        except Exception:  # unknown model: litellm raises; we fall back to check-and-retry
            return False

    def _call(self, request: Request) -> LLMResponse:
        return self._parse(_litellm().completion(**self._kwargs(request)))

    async def _acall(self, request: Request) -> LLMResponse:  # type: ignore[override]
        return self._parse(await _litellm().acompletion(**self._kwargs(request)))

    def _parse(self, resp: Any) -> LLMResponse:
        choice = resp.choices[0]
        usage = getattr(resp, "usage", None)
        tokens = Usage(int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0))
        cost = (getattr(resp, "_hidden_params", None) or {}).get("response_cost")
        if cost is None:
            cost = self.estimate_cost(tokens.prompt_tokens, tokens.completion_tokens)
        return LLMResponse(
            text=choice.message.content or "",
            model=getattr(resp, "model", None) or self._model,
            finish_reason=getattr(choice, "finish_reason", None),
            usage=tokens,
            cost=float(cost) if cost is not None else None,
        )

    def translate_error(self, exc: Exception) -> Exception:
        return map_litellm_error(exc, self._model, key_given=bool(self.defaults.get("api_key")))

    def _native_context_window(self) -> int | None:
        """``max_input_tokens`` from litellm's (local) model table; ``None`` for a model it does not list."""
        if not hasattr(self, "_window"):
            try:
                info = _litellm().get_model_info(model=self._model)
                window = info.get("max_input_tokens") or info.get("max_tokens")
            except Exception:  # litellm raises for models missing from its table
                window = None
            self._window = int(window) if window else None
            if self._window is None:
                log.info("%s: context window unknown to litellm; pass context_window= to fit prompts to it", self._model)
        return self._window

    def count_tokens(self, messages: Any) -> int:
        """litellm's ``token_counter`` (the model's tokenizer where litellm knows it, else tiktoken's
        cl100k); the 4-characters-a-token estimate if that fails."""
        try:
            return int(_litellm().token_counter(model=self._model, messages=[dict(m) for m in messages]))
        except Exception:  # noqa: BLE001 - a tokenizer that cannot load must not fail the call
            return super().count_tokens(messages)

    def estimate_cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        if self.cost_per_token is not None:
            return super().estimate_cost(prompt_tokens, completion_tokens)
        try:
            inp, out = _litellm().cost_per_token(
                model=self._model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
        except Exception:  # litellm raises for models missing from its price map
            return None
        return float(inp) + float(out)


def _json_schema(constraint: Any) -> dict[str, Any] | None:
    schema = getattr(constraint, "schema", None)
    return schema if isinstance(schema, dict) else None
