"""``@llm_function``: a Python function whose body is an LLM call.

Write the signature, the types and a docstring that says what the function computes; leave
the body as ``...``. Each call renders the definition and the argument values into a prompt
(``prompts.CALL``), asks the LLM for the return value under the return type's JSON schema
(enforced while decoding by backends that can, e.g. the local model), and decodes the reply
into that type, asking again with the error when it does not fit.

The docstring is the function's *instruction*, a trainable ``ParameterNode``; every call is a
traced operation whose parents are the instruction and the arguments, so feedback on a result
reaches the instruction and an optimizer can rewrite it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from ..bundle import FunModule
from ..errors import ConstraintViolation, ExecutionError, LLMError, ReplyParseError
from ..llm.builtins import _ask_parsed, _check_reasks, _Config, _info
from ..llm.registry import BackendSpec, get_llm
from ..modules import Module
from ..nodes import MessageNode, Node, ParameterNode, WithInfo, node
from .reply import parse_reply
from .spec import FunctionSpec
from .stub import require_stub
from .types import display

__all__ = ["LLMFunction", "caller_locals", "llm_function"]

F = TypeVar("F", bound=Callable[..., Any])


def caller_locals(depth: int) -> dict[str, Any]:
    """A snapshot of the local names ``depth`` frames up, unless that frame is a module's top level.

    Annotations may name classes local to a function (common in tests and notebooks' cells are
    module level anyway); they resolve with these names.
    """
    frame = sys._getframe(depth + 1)
    return {} if frame.f_locals is frame.f_globals else dict(frame.f_locals)


class LLMFunction(Module):
    """A stub function implemented by an LLM; call it like the function. Made by :func:`llm_function`.

    - ``fn(*args)`` returns the decoded value; called with any ``Node`` argument it returns the
      ``MessageNode`` instead (the call stays in the graph). ``fn.traced(*args)`` always returns
      the node.
    - ``fn.instruction`` is the docstring as a parameter; ``fn.parameters()`` hands it to an
      optimizer; ``state_dict``/``save``/``load`` work as on any ``Module``.
    - A reply that cannot be decoded after ``max_reasks`` re-asks, or a constrained reply cut
      short by ``max_tokens``, raises ``ReplyParseError`` (inside an ``ExecutionError`` with
      its graph node for traced calls). Backend failures
      (``LLMError``: budget, authentication, ...) are raised as they are.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        llm: BackendSpec | None = None,
        max_reasks: int = 2,
        trainable: bool = True,
        localns: Mapping[str, Any] | None = None,
        types: Mapping[Any, Any] | None = None,
        instruction: str | None = None,
        **params: Any,
    ) -> None:
        require_stub(fn, "llm_function")
        self.spec = FunctionSpec(fn, localns, types)
        self.llm = llm
        self.max_reasks = _check_reasks(max_reasks)
        self.params = dict(params)
        self.trainable = trainable
        text = (inspect.getdoc(fn) or "") if instruction is None else instruction
        self.instruction: Node[str] = node(
            text, name=f"{fn.__name__}_instruction", trainable=trainable,
            description=f"[llm_function] the docstring of {fn.__qualname__}: the LLM follows it to compute the return value",
        )  # fmt: skip
        self._op = _make_op(self)
        functools.update_wrapper(self, fn)
        self.__dict__.pop("__isabstractmethod__", None)  # implemented now, whatever @abstractmethod said

    # -- calling ---------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        traced = any(isinstance(a, Node) for a in args) or any(isinstance(v, Node) for v in kwargs.values())
        return self._call(args, kwargs, traced)

    def traced(self, *args: Any, **kwargs: Any) -> Any:
        """Call and return the ``MessageNode`` (for an ``async def`` stub: a coroutine of it).

        >>> from trace_opt.llm import DummyLLM
        >>> @llm_function(llm=DummyLLM(["7"]))
        ... def count_words(text: str) -> int:
        ...     '''How many words the text has.'''
        ...     ...
        >>> out = count_words.traced("a b c d e f g")
        >>> out.data, out.parents[0] is count_words.instruction
        (7, True)
        """
        return self._call(args, kwargs, True)

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any], traced: bool) -> Any:
        if self.spec.is_async:
            return asyncio.to_thread(self._run, args, kwargs, traced)  # context (LLM, budgets) copied
        return self._run(args, kwargs, traced)

    def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any], traced: bool) -> Any:
        flat = self.spec.flatten(args, kwargs)
        self.spec.resolve()  # a bad annotation is the caller's TypeError, not feedback
        try:
            if "self" in flat:  # FunModule.__call__ has its own `self`: pass the receiver by position
                receiver = flat.pop("self")
                out: MessageNode[Any] = self._op(self.instruction, receiver, **flat)
            else:
                out = self._op(self.instruction, **flat)
        except ExecutionError as e:
            if isinstance(e.exception, LLMError) or not traced:
                raise e.exception from None
            raise
        return out if traced else out.data

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return _BoundLLMFunction(self, obj)

    def __set_name__(self, owner: type, name: str) -> None:
        if self.spec.owner is None:
            self.spec.owner = owner

    # -- variants --------------------------------------------------------------------------

    def specialize(self, types: Mapping[Any, Any] | None = None, **options: Any) -> LLMFunction:
        """A copy with type variables filled in (and options such as ``llm=`` changed).

        The copy has its own instruction, starting from this one's current text, so training
        one does not change the other.

        >>> from typing import TypeVar
        >>> T = TypeVar("T")
        >>> def first(items: list[T]) -> T:
        ...     '''The first item.'''
        ...     ...
        >>> llm_function(first).specialize({T: int})
        <llm_function first(items: list[int]) -> int>
        """
        merged = {
            "llm": self.llm, "max_reasks": self.max_reasks, "trainable": self.trainable,
            "instruction": self.instruction.data, **self.params, **options,
        }  # fmt: skip
        new = LLMFunction(self.spec.fn, localns=self.spec.localns, types={**self.spec.types, **(types or {})}, **merged)
        new.spec.owner, new.spec.decorator = self.spec.owner, self.spec.decorator
        return new

    def __repr__(self) -> str:
        try:
            params, returns, _ = self.spec.resolve()
            shown = ", ".join(f"{n}: {display(t)}" for n, t in params.items())
            return f"<llm_function {self.spec.name}({shown}) -> {display(returns)}>"
        except (TypeError, NameError):
            return f"<llm_function {self.spec.qualname}>"


class _BoundLLMFunction:
    """An LLM function used as a method: ``self`` is its first argument."""

    __slots__ = ("fun", "owner")

    def __init__(self, fun: LLMFunction, owner: Any) -> None:
        self.fun, self.owner = fun, owner

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fun(self.owner, *args, **kwargs)

    def traced(self, *args: Any, **kwargs: Any) -> Any:
        return self.fun.traced(self.owner, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fun, name)

    def __repr__(self) -> str:
        return f"<bound {self.fun!r} of {type(self.owner).__name__}>"


def _make_op(fun: LLMFunction) -> FunModule:
    """The traced operation of one LLM function: ``(instruction, /, **arguments) -> value``."""
    spec = fun.spec

    def call(instruction: str, /, *receiver: Any, **flat: Any) -> WithInfo:
        if receiver:
            flat = {"self": receiver[0], **flat}
        _, returns, constraint = spec.resolve()
        cfg = _Config(llm=get_llm(fun.llm), params=dict(fun.params), max_reasks=fun.max_reasks)
        messages = spec.messages(instruction, spec.unflatten(flat))
        what = f"{display(returns)} for {spec.name}()"
        try:
            value, responses = _ask_parsed(cfg, messages, lambda text: parse_reply(text, returns), constraint, what)
        except ConstraintViolation as e:  # a constrained reply cut short (max_tokens): same failure, one error type
            reason = str(e).split("\n", 1)[0]
            raise ReplyParseError(f"{spec.qualname}(): {reason}", reply=str(e.output or ""), hint=e.hint) from None
        info = _info(cfg, responses, constraint)
        info["function"] = spec.qualname
        return WithInfo(value, info)

    description = f"[llm_function] {spec.qualname}: the LLM computes its return value following `instruction` (its docstring)."
    op = FunModule(call, description, name=spec.name, operator=True)
    first = "__instruction" if "instruction" in spec.signature.parameters else "instruction"
    op.info.argnames = (first, "self") if "self" in spec.signature.parameters else (first,)
    return op


@overload
def llm_function(fn: F, /) -> LLMFunction: ...


@overload
def llm_function(
    *, llm: BackendSpec | None = None, max_reasks: int = 2, trainable: bool = True, **params: Any
) -> Callable[[F], LLMFunction]: ...


def llm_function(
    fn: Any = None, /, *, llm: BackendSpec | None = None, max_reasks: int = 2, trainable: bool = True, **params: Any
) -> Any:
    """Implement a stub function with an LLM. ``@llm_function`` and ``@llm_function(...)`` both work.

    The function's body must be only a docstring and ``...`` or ``raise NotImplementedError``
    (the one mypy accepts in a function that declares a return type);
    its return annotation says what comes back: ``str`` (the default), numbers, ``bool``,
    ``list``/``dict``/``tuple``, ``Optional``, ``Literal``, Enums, dataclasses, TypedDicts,
    pydantic models and generics such as ``list[Customer]``.

    - ``llm``: the backend (default: whichever ``trace_opt.llm.get_llm()`` finds at call time).
    - ``max_reasks``: how many times an undecodable reply is sent back with the error.
    - ``trainable``: whether the docstring is a parameter optimizers may rewrite.
    - ``**params``: sampling parameters for every call (``temperature=0``, ``max_tokens=...``).

    >>> from dataclasses import dataclass
    >>> from trace_opt.llm import DummyLLM
    >>> @dataclass
    ... class City:
    ...     name: str
    ...     country: str
    >>> @llm_function(llm=DummyLLM(['[{"name": "Lyon", "country": "France"}]']))
    ... def cities(n: int, near: str) -> list[City]:
    ...     '''`n` real cities close to `near`.'''
    ...     ...
    >>> cities(1, near="Geneva")
    [City(name='Lyon', country='France')]
    """
    options = dict(llm=llm, max_reasks=max_reasks, trainable=trainable, **params)
    if fn is not None:
        if isinstance(fn, (staticmethod, classmethod)):
            return type(fn)(LLMFunction(fn.__func__, localns=caller_locals(1), **options))
        return LLMFunction(fn, localns=caller_locals(1), **options)

    def decorate(f: F) -> Any:
        if isinstance(f, (staticmethod, classmethod)):
            return type(f)(LLMFunction(f.__func__, localns=caller_locals(1), **options))
        return LLMFunction(f, localns=caller_locals(1), **options)

    return decorate
