"""Secret redaction: credentials never leave the process in a prompt, a file or a log line.

A traced program, its exceptions and its feedback can hold anything the process can read,
including API keys from the environment. Everything trace_opt sends out or writes -- prompts,
cache entries, store objects, log records, optimizer state, progress files, reports -- goes
through :func:`redact` / :func:`redact_text` first, which replace every known secret with
``[redacted]``.

Known secrets are

* the values (8 characters or more) of environment variables whose name contains ``KEY``,
  ``TOKEN``, ``SECRET``, ``PASSWORD``, ``PASSWD``, ``CREDENTIAL`` or ``AUTH``;
* the password of any URL with user info (``scheme://user:pass@host``) found in *any*
  environment variable (``DATABASE_URL``, ``https_proxy``, ``OPENAI_API_BASE``...), and such
  passwords wherever they appear in text;
* the values of backend credential arguments (``api_key=``, ``aws_secret_access_key=``,
  ``vertex_credentials=``, an ``Authorization`` header...), registered by the LLM layer with
  :func:`remember` the first time it sees them.

The table of values is rebuilt only when ``os.environ`` or the registered set changes, and a
lookup is a handful of substring tests, so redacting a prompt costs microseconds (see
``bench/bench_secrets.py``). Redaction runs where data leaves the process, never on traced
values themselves.

>>> import os
>>> os.environ["EXAMPLE_API_KEY"] = "sk-example-0123456789"
>>> redact_text("the key is sk-example-0123456789")
'the key is [redacted]'
>>> redact_text("postgres://app:hunter2secret@db/prod")
'postgres://app:[redacted]@db/prod'
>>> del os.environ["EXAMPLE_API_KEY"]
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "REDACTED",
    "is_credential_name",
    "logger",
    "redact",
    "redact_exception",
    "redact_text",
    "redactor",
    "remember",
    "scrub_params",
    "url_without_credentials",
]

REDACTED = "[redacted]"
#: Shorter values are never treated as secrets: redacting them would shred ordinary text.
MIN_LENGTH = 8

_ENV_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)
# user info in a URL: scheme://user:password@  (the password may not hold '@', '/' or spaces)
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*:)(?P<password>[^\s/@]+)@")
# words of a parameter or header name that mark it as a credential
_CREDENTIAL_WORDS = frozenset(
    {"key", "apikey", "token", "secret", "password", "passwd", "credential", "credentials", "auth",
     "authorization", "cookie", "bearer", "signature"}
)  # fmt: skip
_WORD = re.compile(r"[a-z0-9]+")
# decoding parameters that name *tokens of the vocabulary*, not access tokens
_SAMPLING_TOKEN_PARAMS = frozenset(
    {"stop_token_ids", "eos_token_id", "pad_token_id", "bos_token_id", "forced_bos_token_id", "forced_eos_token_id",
     "decoder_start_token_id", "token_healing"}
)  # fmt: skip


def is_credential_name(name: object) -> bool:
    """Whether a parameter or header named ``name`` carries a credential.

    Decided on whole words, so ``api_key`` and ``aws_session_token`` are, ``max_tokens`` is not.

    >>> [is_credential_name(n) for n in ("api_key", "Authorization", "aws_session_token", "max_tokens")]
    [True, True, True, False]
    """
    if not isinstance(name, str) or name.lower() in _SAMPLING_TOKEN_PARAMS:
        return False
    words = _WORD.findall(name.lower().replace("-", "_"))
    return any(w in _CREDENTIAL_WORDS for w in words) or name.lower() in ("x-api-key", "api-key")


def url_without_credentials(url: str) -> str:
    """``url`` without its user info and query string: the endpoint, safe to key and store.

    >>> url_without_credentials("https://bob:pw@proxy.example/v1?key=abc")
    'https://proxy.example/v1'
    """
    text = str(url).split("?", 1)[0].split("#", 1)[0]
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


# -- the table of known secrets ------------------------------------------------------------------

_registered: set[str] = set()
_lock = threading.Lock()


class _Table:
    """The secrets known at one moment, longest first (a URL before the password inside it)."""

    __slots__ = ("env", "registered", "values")

    def __init__(self, env: Mapping[Any, Any], registered: frozenset[str]) -> None:
        self.env = dict(env)  # a copy: compared (in C, item by item) with the live one
        self.registered = registered
        found: set[str] = set(registered)
        for name, value in os.environ.items():
            if _ENV_NAME.search(name) and len(value) >= MIN_LENGTH:
                found.add(value)
            if "://" in value:
                for m in _USERINFO.finditer(value):
                    if len(m["password"]) >= MIN_LENGTH:
                        found.add(m["password"])
        self.values: tuple[str, ...] = tuple(sorted(found, key=lambda v: (-len(v), v)))

    def text(self, text: str) -> str:
        if len(text) < MIN_LENGTH:
            return text
        for value in self.values:
            if value in text:
                text = text.replace(value, REDACTED)
        if "@" in text and "://" in text:  # '@' first: one memchr, '://' is a slower search
            text = _USERINFO.sub(lambda m: m["head"] + REDACTED + "@", text)
        return text

    def obj(self, value: Any) -> Any:
        t = type(value)
        if t is str:
            return self.text(value)
        if t in _SCALARS:
            return value
        if t is dict:
            text, obj = self.text, self.obj
            return {text(k) if type(k) is str else k: v if type(v) in _SCALARS else obj(v) for k, v in value.items()}
        if t is list:
            return [self.obj(v) for v in value]
        if t is tuple:
            return tuple(self.obj(v) for v in value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):  # report data, records
            fields = {f.name: self.obj(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
            return dataclasses.replace(value, **fields)
        return value


_SCALARS = frozenset({int, float, bool, type(None)})
_current: list[_Table] = []


def _environment() -> Mapping[Any, Any]:
    data = getattr(os.environ, "_data", None)  # the live dict behind os.environ
    return data if isinstance(data, dict) else dict(os.environ)


def redactor() -> _Table:
    """The current table of secrets, rebuilt if the environment or the registered set changed.

    Take it once per prompt / file and apply ``.text`` or ``.obj`` to many values.

    >>> table = redactor()
    >>> table.text("nothing secret here"), table.obj({"n": [1, "two"]})
    ('nothing secret here', {'n': [1, 'two']})
    """
    env = _environment()
    table = _current[0] if _current else None
    if table is not None and table.env == env and table.registered is _frozen[0]:
        return table
    with _lock:
        table = _Table(env, _frozen[0])
        _current[:] = [table]
    return table


_frozen: list[frozenset[str]] = [frozenset()]


def remember(value: Any) -> None:
    """Register the string leaves of a credential argument as secrets (short ones are ignored).

    ``Bearer <token>`` headers register the token too; a JSON string (a service-account
    file's text) registers its credential fields.

    >>> remember({"Authorization": "Bearer tok-0123456789-doc"})
    >>> redact_text("sent tok-0123456789-doc")
    'sent [redacted]'
    """
    new = {v for v in _leaves(value) if len(v) >= MIN_LENGTH} - _frozen[0]
    if not new:
        return
    with _lock:
        _registered.update(new)
        _frozen[0] = frozenset(_registered)


def _leaves(value: Any, depth: int = 0) -> Iterable[str]:
    if depth > 8:
        return
    if isinstance(value, str):
        yield value
        scheme, _, token = value.partition(" ")
        if token and scheme.lower() in ("bearer", "basic", "token"):
            yield token.strip()
        if "://" in value:
            yield from (m["password"] for m in _USERINFO.finditer(value))
        if value[:1] == "{":
            try:
                doc = json.loads(value)
            except ValueError:
                return
            yield from _leaves(doc, depth + 1)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if is_credential_name(k) or isinstance(v, (Mapping, list, tuple)):
                yield from _leaves(v, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v, depth + 1)


def redact_text(text: str) -> str:
    """``text`` with every known secret replaced by ``[redacted]``.

    >>> redact_text("ftp://me:longpassword@files.example/x")
    'ftp://me:[redacted]@files.example/x'
    """
    return redactor().text(text)


def redact(value: Any) -> Any:
    """A copy of ``value`` (str, dict, list, tuple, nested) with every secret redacted.

    >>> redact({"url": "redis://u:longpassword@cache:6379", "n": 3})
    {'url': 'redis://u:[redacted]@cache:6379', 'n': 3}
    """
    return redactor().obj(value)


def scrub_params(params: Mapping[str, Any], on_credential: Callable[[Any], None] = remember) -> dict[str, Any]:
    """``params`` without credential entries, at any depth (``extra_body={"api_key": ...}``).

    Each removed value is passed to ``on_credential`` (by default registered as a secret).

    >>> scrub_params({"temperature": 0, "extra_body": {"api_key": "sk-0123456789", "top_k": 4}})
    {'temperature': 0, 'extra_body': {'top_k': 4}}
    """
    out: dict[str, Any] = {}
    for k, v in params.items():
        if is_credential_name(k):
            on_credential(v)
        elif isinstance(v, Mapping):
            out[k] = scrub_params(v, on_credential)
        else:
            out[k] = v
    return out


def redact_exception(exc: BaseException) -> BaseException:
    """Redact ``exc`` and its causes in place -- args, ``message`` and ``provider_message`` -- and return it.

    A provider error that echoes the key must not carry it into a recorded run or a log.

    >>> remember("sk-doc-echoed-0123456789")
    >>> str(redact_exception(PermissionError("401: bad key sk-doc-echoed-0123456789")))
    '401: bad key [redacted]'
    """
    table = redactor()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        try:
            current.args = tuple(table.obj(a) for a in current.args)
            for attr in ("message", "provider_message", "hint", "body"):
                value = getattr(current, attr, None)
                if isinstance(value, (str, dict)):
                    setattr(current, attr, table.obj(value))
        except (AttributeError, TypeError):  # a read-only attribute: the args are done
            pass
        current = current.__cause__ or current.__context__
    return exc


# -- logging -------------------------------------------------------------------------------------


class RedactingFilter(logging.Filter):
    """Redacts a record's message and arguments before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        table = redactor()
        record.msg = table.text(record.msg if isinstance(record.msg, str) else str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(table, a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _redact_arg(table, v) for k, v in record.args.items()}
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # the traceback text, redacted; the exception object itself is left alone
            record.exc_text = table.text(_FORMATTER.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = table.text(record.stack_info)
        return True


_FORMATTER = logging.Formatter()


def _redact_arg(table: _Table, arg: Any) -> Any:
    if type(arg) in _SCALARS:
        return arg
    if isinstance(arg, (str, dict, list, tuple)):
        return table.obj(arg)
    return table.text(str(arg))  # formatted with %s anyway; %r of an object then shows its str


_FILTER = RedactingFilter()
NAMESPACES = ("trace_opt", "optimizers")


def logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with the redacting filter attached.

    A filter on the ``trace_opt`` logger alone would not see records of its children, so every
    library module gets its logger here.

    >>> any(isinstance(f, RedactingFilter) for f in logger("trace_opt.example").filters)
    True
    """
    log = logging.getLogger(name)
    if _FILTER not in log.filters:
        log.addFilter(_FILTER)
    return log


def install_log_filter() -> None:
    """Attach the filter to every logger of the trace_opt and optimizers packages created so far."""
    for name in NAMESPACES:
        logger(name)
    for name, log in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(log, logging.Logger) and name.split(".")[0] in NAMESPACES and _FILTER not in log.filters:
            log.addFilter(_FILTER)
