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
import textwrap
from collections.abc import Callable
from typing import Any, Literal, NoReturn, TypeVar, overload

from .context import CALL_HOOK, INSTRUMENTS, TRACING
from .errors import BundleError, ConstraintViolation, ExecutionError, SandboxUnavailable
from .nodes import ExceptionNode, MessageNode, Node, OpInfo, ParameterNode, WithInfo, format_exception
from .sandbox import get_sandbox
from .secrets import logger

__all__ = ["CodeParameter", "FunModule", "bundle"]

log = logger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_CODE_NAME = "__code"


def _source_of(fn: Callable[..., Any]) -> str | None:
    """The function's own source without decorators, or None when Python cannot find it
    (``python -c``, ``exec``). Decorators are cut with the AST, not by matching their text,
    so any decorator spelling works."""
    try:
        raw = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None
    try:
        tree = ast.parse(raw)
    except SyntaxError:  # e.g. a lambda in the middle of an expression
        return raw.strip()
    for item in tree.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = raw.splitlines()
            return "\n".join(lines[item.lineno - 1 : item.end_lineno]).strip()
    return raw.strip()


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
                f"new code for {self.fun.info.name} is not usable: {exc}",
                output=value,
                hint=f"the code must compile and define a function named {self.fun.info.name!r}",
            ) from None

    def validate(self, source: Any) -> None:
        """Raise SyntaxError/TypeError unless ``source`` compiles into the right function.
        Runs none of the code."""
        if not isinstance(source, str):
            raise TypeError(f"code must be source text, got {type(source).__name__}")
        check_source(source, self.fun.info.name)


class FunModule:
    """A bundled function. Call it like the function; it returns nodes.

    ``parameter`` is the code ParameterNode when ``trainable=True`` (else None), ``fun`` the
    function that runs now, ``info`` the OpInfo optimizers read.
    """

    info: OpInfo

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
        fname = str(name or getattr(fn, "__name__", type(fn).__name__))
        argnames, varargs = _positional_names(fn)
        source = None if operator else _source_of(fn)
        doc = description if description is not None else (inspect.getdoc(fn) or "")
        self.info = OpInfo(fname, doc, source, argnames, varargs, self)
        self.trainable = trainable
        self.catch_execution_error = catch_execution_error
        self.traceable_code = traceable_code
        self.operator = operator
        if sandbox not in (None, True, False, "os", "process", "none"):
            raise BundleError(
                f"Invalid sandbox: {sandbox!r}", hint="use None, True, False, 'os', 'process' or 'none'"
            )
        self.isolation = sandbox if sandbox in ("os", "process") else None
        self.sandbox = False if sandbox == "none" else None if self.isolation else sandbox
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
                self._current = compile_function(src, self.info.name, self._fn)
            else:
                check_source(src, self.info.name)
                method = self.info.argnames[:1] == ("self",)
                self._current = _SandboxedFunction(src, self.info.name, self._fn, method, self.isolation)
            self.info.source = src
        self._compiled_src = src
        return self._current

    # -- calling ----------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if INSTRUMENTS.active is not None:
            return INSTRUMENTS.active.bundle_call(self, args, kwargs, _UNBOUND)
        return self._call(args, kwargs, _UNBOUND)

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any], owner: Any) -> Any:
        tracing = TRACING.get()
        parents: list[Node[Any]] = []
        values: list[Any] = [] if owner is _UNBOUND else [owner]
        for a in args:
            if isinstance(a, Node):
                values.append(a if self.traceable_code else a._data)
                if tracing:
                    parents.append(a)
            else:
                values.append(Node(a) if self.traceable_code else a)
                if tracing:
                    parents.append(values[-1] if self.traceable_code else Node(a))
        kvalues: dict[str, Any] = {}
        names: tuple[str, ...] | None = None
        if tracing:
            skip = 0 if owner is _UNBOUND else 1
            names = self.info.names_for(len(args) + skip)[skip:]
        for k, a in kwargs.items():
            if isinstance(a, Node):
                kvalues[k] = a if self.traceable_code else a._data
                if tracing:
                    parents.append(a)
            else:
                kvalues[k] = Node(a) if self.traceable_code else a
                if tracing:
                    parents.append(kvalues[k] if self.traceable_code else Node(a))
        if kwargs and names is not None:
            names = names + tuple(kwargs)
        if self.parameter is not None and tracing:
            parents.append(self.parameter)
            names = (names or ()) + (_CODE_NAME,)
        call = (tuple(parents), names)
        if self.is_async:
            return self._acall(values, kvalues, call)
        try:
            fn = self._resolve()
            hook = CALL_HOOK.get()
            result = fn(*values, **kvalues) if hook is None else hook.call(self, values, kvalues, fn)
        except Exception as exc:  # noqa: BLE001 - every failure becomes feedback
            self._fail(exc, call)
        return self._finish(result, call)

    async def _acall(self, values: list[Any], kvalues: dict[str, Any], call: tuple[Any, Any]) -> Any:
        try:
            fn = self._resolve()
            hook = CALL_HOOK.get()
            result = await (fn(*values, **kvalues) if hook is None else hook.acall(self, values, kvalues, fn))
        except Exception as exc:  # noqa: BLE001
            self._fail(exc, call)
        return self._finish(result, call)

    def _finish(self, result: Any, call: tuple[tuple[Node[Any], ...], tuple[str, ...] | None]) -> MessageNode[Any]:
        info = None
        if type(result) is WithInfo:
            info = dict(result.info)
            result = result.value
        if isinstance(result, Node):
            if self.traceable_code:
                info = info or {}
                info["output"] = result
            result = result._data
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
        fun = self
        if self.trainable:
            # Each instance trains its own copy of the method's code.
            key = f"__bundle_{self._attr or self.info.name}"
            fun = obj.__dict__.get(key)
            if fun is None:
                fun = self.copy()
                obj.__dict__[key] = fun
        return _BoundFunModule(fun, obj)

    def copy(self) -> FunModule:
        """A new FunModule for the same function with its own code parameter."""
        new = FunModule.__new__(FunModule)
        new.__dict__.update(self.__dict__)
        new.info = OpInfo(self.info.name, self.info.doc, self.info.source, self.info.argnames, self.info.varargs, new)
        if self.parameter is not None:
            new.parameter = CodeParameter(self.parameter._data, new)
        return new

    def __repr__(self) -> str:
        return f"<bundled {'trainable ' if self.trainable else ''}function {self.info.name}>"


class _Unbound:
    __slots__ = ()


_UNBOUND = _Unbound()


class _BoundFunModule:
    """A bundled method bound to an instance: ``self`` is passed as is (not traced)."""

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

    ``allow_external_dependencies`` and ``overwrite_python_recursion`` are accepted for code
    ported from Trace and have no effect.

    >>> import trace_opt as trace
    >>> @trace.bundle()
    ... def greet(lang, name):
    ...     '''Produce a greeting based on the language.'''
    ...     return f"Hello, {name}!"
    >>> out = greet(trace.node("es"), "Juan")
    >>> out.data, len(out.parents)
    ('Hello, Juan!', 2)
    """
    del allow_external_dependencies, overwrite_python_recursion
    options = dict(
        trainable=trainable,
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
