"""The canonical form of one LLM request, and its cache key.

The key is the sha256 of canonical JSON (sorted keys, no whitespace) of everything that can
change the answer: backend identity and model, the endpoint (``api_base`` without its user
info or query), messages, sampling parameters, the constraint, the sample id and the
rollout. Credentials (``api_key``, ``aws_secret_access_key``, ``vertex_credentials``, headers,
and credential keys nested in ``extra_body``...) and transport knobs (timeouts, retries) are split off first, so
they never reach a key or a stored record and a cache can be shared; their values are
registered with :mod:`trace_opt.secrets`, so an error that echoes them is redacted too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import SerializationError
from ..secrets import is_credential_name, remember, scrub_params, url_without_credentials

__all__ = ["Message", "Request", "SAFE_PARAMS", "canonical_json", "constraint_spec", "endpoint", "normalize_messages", "split_params"]

Message = Mapping[str, Any]

#: Parameters that pick *where/how* to send a request, not *what* is asked.
TRANSPORT_PARAMS = frozenset(
    {
        "api_base",
        "api_key",
        "api_version",
        "base_url",
        "custom_llm_provider",
        "extra_headers",
        "headers",
        "max_retries",
        "num_retries",
        "organization",
        "timeout",
    }
)
#: The parameters a saved optimizer state or progress file may set: sampling only. Anything
#: else (``api_base``, ``api_key``, ``extra_headers``, ``extra_body``...) could send the user's
#: key elsewhere, so loading refuses it (``UnsafeStateError``).
SAFE_PARAMS = frozenset(
    {"frequency_penalty", "logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "min_p", "n",
     "presence_penalty", "reasoning_effort", "repeat_penalty", "repetition_penalty", "seed", "stop",
     "temperature", "top_k", "top_logprobs", "top_p"}
)  # fmt: skip
#: Transport parameters that pick the server: keyed (without credentials) so two endpoints
#: serving the same model name never share answers.
ENDPOINT_PARAMS = ("api_base", "base_url", "azure_endpoint")


def split_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``params`` into (semantic, transport). Only semantic ones are keyed and stored.

    Credential parameters go to transport; a mapping holding credentials (``extra_body``)
    is sent whole but keyed without them.

    >>> split_params({"temperature": 0, "aws_secret_access_key": "abcdefgh12", "extra_body": {"api_key": "k" * 9}})
    ({'temperature': 0, 'extra_body': {}}, {'aws_secret_access_key': 'abcdefgh12', 'extra_body': {'api_key': 'kkkkkkkkk'}})
    """
    semantic: dict[str, Any] = {}
    transport: dict[str, Any] = {}
    for k, v in params.items():
        if k in TRANSPORT_PARAMS or is_credential_name(k):
            transport[k] = v
            if is_credential_name(k) or k in ("extra_headers", "headers"):
                remember(v)
            elif isinstance(v, str) and "@" in v:  # an endpoint with user:password
                remember(v)
        elif isinstance(v, Mapping):
            clean = scrub_params(v)
            if clean != v:
                transport[k] = v  # sent as given; keyed and stored without the credentials
            semantic[k] = clean
        elif v is not None:
            semantic[k] = v
    return semantic, transport


def endpoint(transport: Mapping[str, Any]) -> str | None:
    """The server a request goes to, without credentials (``None``: the provider's default)."""
    for name in ENDPOINT_PARAMS:
        value = transport.get(name)
        if isinstance(value, str) and value:
            return url_without_credentials(value)
    return None


def normalize_messages(messages: str | Sequence[Message]) -> tuple[dict[str, Any], ...]:
    """Turn a string or a list of chat messages into a tuple of plain ``{"role", "content"}`` dicts."""
    if isinstance(messages, str):
        return ({"role": "user", "content": messages},)
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or "role" not in m or "content" not in m:
            raise TypeError(
                f"Invalid message #{i}: {m!r}\n"
                "help: messages are dicts like {'role': 'user', 'content': 'text'}, or pass one string"
            )
        out.append(dict(m))
    if not out:
        raise ValueError("Invalid messages: an empty list\nhelp: pass at least one message")
    return tuple(out)


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, tuple):
        return list(value)
    raise SerializationError(
        f"{type(value).__name__} value {value!r} has no canonical JSON form",
        hint="pass only JSON-compatible parameters (str, numbers, lists, dicts) to an LLM call",
    )


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, compact separators, non-ASCII kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def constraint_spec(constraint: Any) -> Any:
    """A JSON-ready form of a constraint for keys and records (``None`` for none).

    Uses the constraint's canonical ``to_json()`` (see ``trace_opt.constraints``); anything else
    that has a ``check`` is described by its type and ``describe()`` text.
    """
    if constraint is None:
        return None
    to_json = getattr(constraint, "to_json", None)
    if callable(to_json):
        return to_json()
    describe = getattr(constraint, "describe", None)
    text = describe() if callable(describe) else repr(constraint)
    return {"type": f"{type(constraint).__module__}.{type(constraint).__qualname__}", "describe": text}


@dataclass(frozen=True)
class Request:
    """One call: messages, semantic params, optional constraint, sample id and rollout.

    ``sample_id`` tells apart samples the caller wants of the same request (a backend function
    receives it). ``rollout`` says where in a run the call is made -- the optimizers send
    ``"seed=0/step=3/attempt=1"`` -- so a later step asking the same prompt draws a new sample
    while the same run repeated hits the cache (DSPy's ``rollout_id``); it only enters the key
    (and, through the key, the local model's sampling seed). ``transport`` (keys, endpoints,
    timeout) travels with the request but is never keyed.

    >>> r = Request(({"role": "user", "content": "hi"},), {"temperature": 0})
    >>> r.key({"backend": "dummy"}) == r.key({"backend": "dummy"})
    True
    """

    messages: tuple[dict[str, Any], ...]
    params: dict[str, Any] = field(default_factory=dict)
    constraint: Any = None
    sample_id: int | str | None = None
    rollout: str | None = None
    transport: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def record(self, identity: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON-ready request as keyed and stored (never with credentials)."""
        where = endpoint(self.transport)
        record = {
            "llm": dict(identity) if where is None else {**identity, "endpoint": where},
            "messages": list(self.messages),
            "params": self.params,
            "constraint": constraint_spec(self.constraint),
            "sample_id": self.sample_id,
        }
        if self.rollout is not None:  # absent, not null, so keys made before rollouts still hit
            record["rollout"] = self.rollout
        return record

    def key(self, identity: Mapping[str, Any]) -> str:
        """sha256 hex digest of the canonical request."""
        return hashlib.sha256(canonical_json(self.record(identity)).encode()).hexdigest()

    @property
    def timeout(self) -> float | None:
        """The per-call timeout in seconds, if one was given."""
        t = self.transport.get("timeout")
        return float(t) if t is not None else None
