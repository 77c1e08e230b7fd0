"""``@bundle``: make a Python function a traced operation.

Calling a bundled function with nodes or plain values runs the function on the plain values
and returns a ``MessageNode`` whose parents are the inputs. With ``trainable=True`` the
function's source is a ``ParameterNode``: an optimizer may rewrite it, and the next call
compiles and runs the new code; code that fails to compile or raises becomes an
``ExceptionNode`` (feedback), never a crash of the training loop.

The call path is kept short on purpose (it is the library's hot path): argument names are
computed once at decoration time, per-call work is a loop over the arguments.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Literal, NoReturn, TypeVar, overload

from .arguments import SCANNED as _SCANNED
from .arguments import holds_node as _holds_node
from .arguments import nodes_in as _nodes_in
from .arguments import same as _same
from .arguments import to_data
from .arguments import unwrap as _unwrap
from .context import ASKED, CALL_HOOK, INSTRUMENTS, TRACING, llm_calls_since
from .errors import BundleError, ConstraintViolation, ExecutionError, SandboxUnavailable
from .funinfo import FunInfo, source_of
from .modules import RESERVED, Module
from .nodes import ExceptionNode, MessageNode, Node, ParameterNode, WithInfo, format_exception
from .sandbox import get_sandbox
from .secrets import logger

__all__ = ["CodeParameter", "FunModule", "bundle", "to_data"]

log = logger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_CODE_NAME = "__code"
_TAG = re.compile(r"^\[([^\[\]]+)\]")


def _stub_source(fn: Callable[..., Any]) -> str:
    """A readable stand-in when the source is unavailable: signature and docstring."""
    try:
        sig = str(inspect.signature(fn))
    except (TypeError, ValueError):
        sig = "(*args, **kwargs)"
    doc = inspect.getdoc(fn)
    body = f'    """{doc}"""\n' if doc else ""
    kw = "async def" if inspect.iscoroutinefunction(fn) else "def"
    return f"{kw} {fn.__name__}{sig}:\n{body}    ...  # original source not available"


def _positional_names(fn: Callable[..., Any]) -> tuple[tuple[str, ...], str | None]:
    code = getattr(fn, "__code__", None)
    if code is not None:
        names = code.co_varnames[: code.co_argcount]
        varargs = code.co_varnames[code.co_argcount + code.co_kwonlyargcount] if code.co_flags & 0x04 else None
        return tuple(names), varargs
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return (), "args"
    names = tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    varargs = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), None)
    return names, varargs


def check_source(source: str, name: str) -> ast.Module:
    """Parse and byte-compile ``source`` without running any of it, and check that it
    defines a function called ``name``. Safe on untrusted text."""
    tree = ast.parse(source)
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not any(d.name == name for d in defs):
        found = ", ".join(d.name for d in defs) or "no function"
        raise SyntaxError(f"the new code must define a function named {name!r}; it defines {found}")
    compile(tree, f"<trainable {name}>", "exec")
    return tree


def compile_function(source: str, name: str, template: Callable[..., Any]) -> Callable[..., Any]:
    """Compile and *run* ``source`` in this process, returning its function ``name`` bound to
    the module globals (and closure values) of ``template``. Only for trusted code: code an
    optimizer wrote goes through the sandbox instead.
    """
    tree = check_source(source, name)
    env = dict(getattr(template, "__globals__", {}))
    closure = getattr(template, "__closure__", None)
    if closure:
        env.update(zip(template.__code__.co_freevars, (c.cell_contents for c in closure)))
    # One namespace, as in the sandbox: helpers the code defines are the function's globals.
    exec(compile(tree, f"<trainable {name}>", "exec"), env)  # noqa: S102 - trusted code only
    fn = env[name]
    if not callable(fn):
        raise TypeError(f"{name} in the new code is not a function")
    return fn  # type: ignore[no-any-return]


class _SandboxedFunction:
    """Runs a code parameter's current source in the sandbox (see trace_opt.sandbox)."""

    __slots__ = ("source", "name", "template", "method", "isolation", "is_async")

    def __init__(
        self, source: str, name: str, template: Callable[..., Any], method: bool, isolation: str | None = None
    ) -> None:
        self.source, self.name, self.template, self.method = source, name, template, method
        self.isolation = isolation
        self.is_async = inspect.iscoroutinefunction(template)  # then calls return an awaitable

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.method and args:  # the instance stays here; the code gets a stand-in
            args = args[1:]
        sandbox = get_sandbox(self.isolation)
        run = sandbox.acall if self.is_async else sandbox.call
        return run(self.source, self.name, args, kwargs, template=self.template, self_placeholder=self.method)


class CodeParameter(ParameterNode[str]):
    """The source text of a trainable bundled function. ``validate(source)`` raises if the
    text would not compile into a function of the same name, so optimizers can refuse such a
    suggestion before it reaches the parameter."""

    __slots__ = ("fun",)

    def __init__(self, source: str, fun: FunModule) -> None:
        super().__init__(source, name=_CODE_NAME, description=f"[code] the source of {fun.info.name}")
        self.fun = fun

    def check(self, value: Any) -> None:
        """Code must compile into a function of the same name (runs none of it)."""
        super().check(value)
        try:
            self.validate(value)
        except (SyntaxError, TypeError, ValueError) as exc:
            raise ConstraintViolation(
                f"new code for {self.fun.code_name} does not compile into a function of that name: {exc}",
                output=value,
                hint=f"the code must compile and define a function named {self.fun.code_name!r}",
            ) from None

    def validate(self, source: Any) -> None:
        """Raise SyntaxError/TypeError unless ``source`` compiles into the right function.
        Runs none of the code."""
        if not isinstance(source, str):
            raise TypeError(f"code must be source text, got {type(source).__name__}")
        check_source(source, self.fun.code_name)


class FunModule(Module):
    """A bundled function. Call it like the function; it returns nodes.

    ``parameter`` is the code ParameterNode when ``trainable=True`` (else None), ``fun`` the
    function that runs now, ``info`` what optimizers read (also Trace's ``info`` dict).
    It is a ``Module``, as in Trace: ``parameters()``, ``parameters_dict()``,
    ``save(path)`` and ``load(path)`` (JSON) work on a trainable function.

    >>> import trace_opt as trace
    >>> @trace.bundle(trainable=True)
    ... def double(x):
    ...     return 2 * x
    >>> [p is double.parameter for p in double.parameters()], double.info["fun_name"]
    ([True], 'double')
    """

    info: FunInfo

    def __new__(cls, *args: Any, **kwargs: Any) -> FunModule:
        # A function whose recursive calls run as plain Python gets the subclass that guards
        # against re-entry, so the common call path carries no check for it.
        if cls is FunModule and args:
            bound = _init_signature().bind_partial(None, *args, **kwargs).arguments
            if bound.get("overwrite_python_recursion") or bound.get("trainable"):
                cls = _PlainRecursionFunModule
        return super().__new__(cls)

    def __init__(
        self,
        fn: Callable[..., Any],
        description: str | None = None,
        trainable: bool = False,
        catch_execution_error: bool = True,
        traceable_code: bool = False,
        name: str | None = None,
        operator: bool = False,
        sandbox: bool | Literal["os", "process", "none"] | None = None,
        overwrite_python_recursion: bool = False,
        process_inputs: bool = True,
    ) -> None:
        if not callable(fn):
            raise BundleError(
                f"@bundle needs a function, got {type(fn).__name__}: {fn!r}",
                hint="decorate a def (or async def) function or method",
            )
        if isinstance(fn, FunModule):
            raise BundleError(f"{fn.info.name} is already bundled", hint="apply @bundle once")
        self._fn = fn
        self.is_async = inspect.iscoroutinefunction(fn)
        #: the name the function's ``def`` has, which rewritten code must keep
        self.code_name = str(getattr(fn, "__name__", type(fn).__name__))
        tag = _TAG.match(description) if description else None
        if tag is not None and name is None:  # Trace's "[name] what it does": the operation's name
            name, description = tag.group(1).strip(), tag.string[tag.end() :].strip()
        fname = str(name or self.code_name)
        argnames, varargs = _positional_names(fn)
        source, line = (None, None) if operator else source_of(fn, _is_bundle)
        doc = description if description is not None else (inspect.getdoc(fn) or "")
        self.info = FunInfo(fn, fname, doc, source, line, argnames, varargs, self)
        self.trainable = trainable
        self.catch_execution_error = catch_execution_error
        self.traceable_code = traceable_code
        self.process_inputs = process_inputs
        self.operator = operator
        if sandbox not in (None, True, False, "os", "process", "none"):
            raise BundleError(
                f"Invalid sandbox: {sandbox!r}", hint="use None, True, False, 'os', 'process' or 'none'"
            )
        self.isolation = sandbox if sandbox in ("os", "process") else None
        self.sandbox = False if sandbox == "none" else None if self.isolation else sandbox
        # As in Trace, trainable code always runs its own recursive calls as plain Python.
        self.overwrite_python_recursion = overwrite_python_recursion or trainable
        self._attr: str | None = None
        self.parameter: CodeParameter | None = None
        if trainable:
            if source is None:
                log.warning(
                    "source of %s is not available (defined under `python -c` or exec?); its code "
                    "parameter shows a stub until an optimizer rewrites it", fname
                )
                source = _stub_source(fn)
                self.info.source = source
            self.parameter = CodeParameter(source, self)
        self._compiled_src: Any = source
        self._original_src = source
        self._current: Callable[..., Any] = fn
        if sandbox is True and self.parameter is not None:
            self._compiled_src = None  # force the first call through _resolve, into the sandbox
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    # -- code parameter ---------------------------------------------------------------------
    @property
    def fun(self) -> Callable[..., Any]:
        """The function that runs now (recompiled if the code parameter changed)."""
        return self._resolve()

    @property
    def code_changed(self) -> bool:
        """True once the code parameter holds code the user did not write."""
        p = self.parameter
        return p is not None and p.version > 0

    def _resolve(self) -> Callable[..., Any]:
        p = self.parameter
        if p is None or p._data is self._compiled_src:
            return self._current
        src = p._data
        if not isinstance(src, str):
            raise TypeError(f"the code parameter of {self.info.name} must hold source text, got {type(src).__name__}")
        if src != self._compiled_src:
            if src == self._original_src and self.sandbox is not True:
                self._current = self._fn
            elif self.sandbox is False:
                self._current = compile_function(src, self.code_name, self._fn)
            else:
                check_source(src, self.code_name)
                method = self.info.argnames[:1] == ("self",)
                self._current = _SandboxedFunction(src, self.code_name, self._fn, method, self.isolation)
            self.info.source = src
        self._compiled_src = src
        return self._current

    # -- Module ------------------------------------------------------------------------------
    def _named_parameters(self, prefix: str, seen: set[int]) -> Any:
        if self.parameter is not None and id(self) not in seen:
            seen.add(id(self))
            yield f"{prefix}{_CODE_NAME}", self.parameter

    def _bound_to(self, owner: Any) -> Module:
        return self._instance_copy(owner)[0] if self.trainable else self

    def _entry(self) -> Any:
        return self.parameter

    # -- calling ----------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if INSTRUMENTS.active is not None:
            return INSTRUMENTS.active.bundle_call(self, args, kwargs, _UNBOUND)
        return self._call(args, kwargs, _UNBOUND)

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any], owner: Any) -> Any:
        tracing = TRACING.get()
        parents: list[Node[Any]] = []
        self_node = None
        if owner is _UNBOUND:
            values: list[Any] = []
        else:
            values = [owner]
            if self.trainable:  # the instance is an input of its trainable methods (see __get__)
                self_node = owner.__dict__.get(_SELF_NODE)
                if self_node is not None:
                    parents.append(self_node)
        expanded = False
        for a in args:
            if isinstance(a, Node):
                values.append(a if self.traceable_code else a._data)
                if tracing:
                    parents.append(a)
            elif type(a) in _SCANNED and _holds_node(a):
                values.append(a if self.traceable_code else _unwrap(a))
                if tracing:
                    parents.extend(_nodes_in(a))
                    expanded = True
            else:
                values.append(Node(a) if self.traceable_code else a)
                if tracing:
                    parents.append(values[-1] if self.traceable_code else Node(a))
        kvalues: dict[str, Any] = {}
        names: tuple[str, ...] | None = None
        for k, a in kwargs.items():
            if isinstance(a, Node):
                kvalues[k] = a if self.traceable_code else a._data
                if tracing:
                    parents.append(a)
            elif type(a) in _SCANNED and _holds_node(a):
                kvalues[k] = a if self.traceable_code else _unwrap(a)
                if tracing:
                    parents.extend(_nodes_in(a))
                    expanded = True
            else:
                kvalues[k] = Node(a) if self.traceable_code else a
                if tracing:
                    parents.append(kvalues[k] if self.traceable_code else Node(a))
        if tracing:
            if expanded:
                names = self._expanded_names(args, kwargs, owner, self_node)
            else:
                skip = 0 if owner is _UNBOUND or self_node is not None else 1
                names = self.info.names_for(len(args) + (0 if owner is _UNBOUND else 1))[skip:]
                if kwargs:
                    names = names + tuple(kwargs)
            if self.parameter is not None:
                parents.append(self.parameter)
                names = names + (_CODE_NAME,)
        call = (tuple(parents), names)
        if not self.process_inputs:  # Trace's _process_inputs=False: the arguments as given
            values = list(args) if owner is _UNBOUND else [owner, *args]
            kvalues = dict(kwargs)
        if self.is_async:
            return self._acall(values, kvalues, call)
        asked = ASKED.serial
        try:
            fn = self._resolve()
            hook = CALL_HOOK.get()
            result = fn(*values, **kvalues) if hook is None else hook.call(self, values, kvalues, fn)
        except Exception as exc:  # noqa: BLE001 - every failure becomes feedback
            self._fail(exc, call)
        return self._finish(result, call, asked)

    def _expanded_names(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], owner: Any, self_node: Any
    ) -> tuple[str, ...]:
        """Input names when some argument is a list/tuple/dict holding nodes: each node in it
        is an input of its own, named after the argument and its place (``iterable_0``)."""
        bound = 0 if owner is _UNBOUND else 1
        argnames = self.info.names_for(len(args) + bound)
        names = list(argnames[: bound if self_node is not None else 0])
        for name, a in [*zip(argnames[bound:], args), *kwargs.items()]:
            if isinstance(a, Node):
                names.append(name)
            elif type(a) in _SCANNED and _holds_node(a):
                names.extend(f"{name}_{i}" for i in range(len(_nodes_in(a))))
            else:
                names.append(name)
        return tuple(names)

    async def _acall(self, values: list[Any], kvalues: dict[str, Any], call: tuple[Any, Any]) -> Any:
        asked = ASKED.serial
        try:
            fn = self._resolve()
            hook = CALL_HOOK.get()
            result = await (fn(*values, **kvalues) if hook is None else hook.acall(self, values, kvalues, fn))
        except Exception as exc:  # noqa: BLE001
            self._fail(exc, call)
        return self._finish(result, call, asked)

    def _finish(
        self, result: Any, call: tuple[tuple[Node[Any], ...], tuple[str, ...] | None], asked: int
    ) -> MessageNode[Any]:
        info = None
        if type(result) is WithInfo:
            info = dict(result.info)
            result = result.value
        if isinstance(result, Node):
            if self.traceable_code:
                info = info or {}
                info["output"] = result
            result = result._data
        if ASKED.serial != asked and (models := llm_calls_since(asked)):
            info = info or {}  # the function asked an LLM: say so on its output (pictures mark it)
            info["llm_calls"] = models
        return MessageNode(result, call[0], self.info, call[1], info=info)

    def _fail(self, exc: Exception, call: tuple[tuple[Node[Any], ...], tuple[str, ...] | None]) -> NoReturn:
        if not self.catch_execution_error or isinstance(exc, SandboxUnavailable):
            raise exc  # a missing sandbox is the user's to fix, not feedback for an optimizer
        text = exc.exception_node.data if isinstance(exc, ExecutionError) else format_exception(exc)
        enode = ExceptionNode(exc, call[0], self.info, call[1], text=text)
        raise ExecutionError(enode) from exc

    # -- methods ----------------------------------------------------------------------------
    def __set_name__(self, owner: type, name: str) -> None:
        self._attr = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        if self.trainable:
            # Each instance trains its own copy of the method's code, and the instance is an
            # input of the call (a node made once per instance), as in Trace.
            return _BoundFunModule(self._instance_copy(obj)[0], obj)
        return _BoundFunModule(self, obj)

    def _instance_copy(self, obj: Any) -> tuple[FunModule, Node[Any]]:
        """``obj``'s own copy of this trainable method and the node standing for ``obj``,
        made on first use and kept on the instance under Trace's attribute names."""
        state = obj.__dict__
        key = f"{RESERVED}bundle_{self.info.fun_name}"
        fun = state.get(key)
        if fun is None:
            fun = state[key] = self.copy()
        self_node = state.get(_SELF_NODE)
        if self_node is None:
            self_node = state[_SELF_NODE] = Node(obj, name="self")
        return fun, self_node

    def copy(self) -> FunModule:
        """A new FunModule for the same function with its own code parameter."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.info = self.info.copy_for(new)
        if self.parameter is not None:
            new.parameter = CodeParameter(self.parameter._data, new)
        return new

    def __repr__(self) -> str:
        return f"<bundled {'trainable ' if self.trainable else ''}function {self.info.name}>"


_CURRENT: ContextVar[tuple[int, ...]] = ContextVar("trace_opt.bundle.current", default=())


class _PlainRecursionFunModule(FunModule):
    """A FunModule whose calls from inside its own running body (recursion) run the plain
    function on plain values, untraced: ``bundle(overwrite_python_recursion=True)``, and
    every trainable function, as in Trace. The running functions are kept per context, so
    threads and asyncio tasks do not see each other's calls."""

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any], owner: Any) -> Any:
        running = _CURRENT.get()
        if id(self) in running:
            plain = _unwrap if self.process_inputs else _same
            values = [plain(a) for a in args]
            if owner is not _UNBOUND:
                values.insert(0, owner)
            return self._resolve()(*values, **{k: plain(v) for k, v in kwargs.items()})
        if self.is_async:
            return self._aguarded(args, kwargs, owner, running)
        token = _CURRENT.set(running + (id(self),))
        try:
            return FunModule._call(self, args, kwargs, owner)
        finally:
            _CURRENT.reset(token)

    async def _aguarded(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], owner: Any, running: tuple[int, ...]
    ) -> Any:
        token = _CURRENT.set(running + (id(self),))
        try:
            return await FunModule._call(self, args, kwargs, owner)
        finally:
            _CURRENT.reset(token)


_SELF_NODE = f"{RESERVED}self_node"

class _Unbound:
    __slots__ = ()


_UNBOUND = _Unbound()


class _BoundFunModule:
    """A bundled method bound to an instance. ``self`` is passed as is; for a trainable
    method the node standing for the instance (one per instance) is also an input."""

    __slots__ = ("fun", "owner")

    def __init__(self, fun: FunModule, owner: Any) -> None:
        self.fun = fun
        self.owner = owner

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if INSTRUMENTS.active is not None:
            return INSTRUMENTS.active.bundle_call(self.fun, args, kwargs, self.owner)
        return self.fun._call(args, kwargs, self.owner)

    @property
    def parameter(self) -> CodeParameter | None:
        return self.fun.parameter

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fun, name)


@functools.cache
def _init_signature() -> inspect.Signature:
    return inspect.signature(FunModule.__init__)


def _is_bundle(obj: Any) -> bool:
    return obj is bundle or (isinstance(obj, functools.partial) and obj.func is bundle)


@overload
def bundle(fn: F, /) -> FunModule: ...


@overload
def bundle(
    description: str | None = None,
    *,
    trainable: bool = False,
    catch_execution_error: bool = True,
    traceable_code: bool = False,
    allow_external_dependencies: bool = False,
    overwrite_python_recursion: bool = False,
    sandbox: bool | Literal["os", "process", "none"] | None = None,
    _process_inputs: bool = True,
) -> Callable[[F], FunModule]: ...


def bundle(
    description: Any = None,
    *,
    trainable: bool = False,
    catch_execution_error: bool = True,
    traceable_code: bool = False,
    allow_external_dependencies: bool = False,
    overwrite_python_recursion: bool = False,
    sandbox: bool | Literal["os", "process", "none"] | None = None,
    _process_inputs: bool = True,
) -> Any:
    """Trace calls of a function (or method, or ``async def``). Both ``@bundle`` and
    ``@bundle(...)`` work.

    - ``description``: what the operation does, for optimizer prompts (default: docstring).
    - ``trainable``: the function's source becomes a code parameter optimizers can rewrite.
    - ``catch_execution_error``: wrap exceptions into ``ExecutionError`` with a graph node.
    - ``traceable_code``: pass nodes (not plain values) into the function.
    - ``sandbox``: where a trainable function's code runs. ``None`` (default): the user's
      own source in process, any other source (an optimizer's rewrite, a loaded state) in
      the sandbox; ``False`` or ``"none"``: always in process (trusted code); ``True``: always
      sandboxed. ``"process"`` opts in to a sandbox without OS isolation where bubblewrap or
      user namespaces are missing (see trace_opt.sandbox.isolation); ``"os"`` insists on it.

    - ``_process_inputs=False`` (Trace's option): the function gets its arguments exactly as
      passed, nodes included, instead of their values.
    - ``overwrite_python_recursion``: calls the function makes to itself while it runs are
      plain Python calls on plain values, not traced (always so for trainable functions,
      whose rewritten code calls itself by name, as in Trace).

    ``allow_external_dependencies`` is accepted for code ported from Trace and has no effect
    (trace_opt does not watch which nodes a function reads).

    >>> import trace_opt as trace
    >>> @trace.bundle()
    ... def greet(lang, name):
    ...     '''Produce a greeting based on the language.'''
    ...     return f"Hello, {name}!"
    >>> out = greet(trace.node("es"), "Juan")
    >>> out.data, len(out.parents)
    ('Hello, Juan!', 2)
    """
    del allow_external_dependencies
    options = dict(
        trainable=trainable,
        overwrite_python_recursion=overwrite_python_recursion,
        process_inputs=_process_inputs,
        catch_execution_error=catch_execution_error,
        traceable_code=traceable_code,
        sandbox=sandbox,
    )
    if callable(description) and not isinstance(description, str):
        return FunModule(description, **options)  # type: ignore[arg-type]
    if description is not None and not isinstance(description, str):
        raise BundleError(
            f"bundle(description=...) must be a string, got {type(description).__name__}",
            hint="use @bundle() or @bundle('what the function does')",
        )

    def decorate(fn: F) -> FunModule:
        return FunModule(fn, description=description, **options)  # type: ignore[arg-type]

    return decorate
