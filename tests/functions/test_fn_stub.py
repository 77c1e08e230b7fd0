"""What counts as a stub, and the errors for functions that are not one."""

from __future__ import annotations

import pytest

from trace_opt.functions import is_stub, llm_function


def doc_and_raise(x: int) -> int:
    """Doc."""
    raise NotImplementedError


def raise_with_message(x: int) -> int:
    """Doc."""
    raise NotImplementedError("the LLM does this")


def ellipsis_only(x: int) -> int: ...


def doc_and_ellipsis(x: int) -> int:
    """Doc."""
    ...


def real_body(x: int) -> int:
    """Doc."""
    return x + 1


def docstring_only(x: int) -> int:
    """Doc."""


def pass_body(x: int) -> int:
    """Doc."""
    pass


def raise_other(x: int) -> int:
    """Doc."""
    raise ValueError("no")


def raise_then_more(x: int) -> int:
    """Doc."""
    print(x)
    raise NotImplementedError


@pytest.mark.parametrize("fn", [doc_and_raise, raise_with_message, ellipsis_only, doc_and_ellipsis])
def test_stubs(fn: object) -> None:
    assert is_stub(fn)  # type: ignore[arg-type]


@pytest.mark.parametrize("fn", [real_body, docstring_only, pass_body, raise_other, raise_then_more])
def test_not_stubs(fn: object) -> None:
    assert not is_stub(fn)  # type: ignore[arg-type]


def test_without_source_the_bytecode_decides() -> None:
    env: dict[str, object] = {}
    exec("def a(x):\n    'Doc.'\n    raise NotImplementedError('x')\n"
         "def b(x):\n    ...\n"
         "def c(x):\n    return x * 2\n", env)  # fmt: skip
    assert is_stub(env["a"]) and is_stub(env["b"])  # type: ignore[arg-type]
    assert not is_stub(env["c"])  # type: ignore[arg-type]


def test_a_real_body_is_a_type_error_naming_the_function() -> None:
    with pytest.raises(TypeError, match=r"real_body has a body of its own[\s\S]*help: "):
        llm_function(real_body)


def test_a_lambda_or_a_class_is_refused() -> None:
    with pytest.raises(TypeError, match="lambda"):
        llm_function(lambda x: x)
    with pytest.raises(TypeError, match="needs a function"):
        llm_function(int)  # type: ignore[arg-type]


def test_returning_none_is_refused() -> None:
    def log(message: str) -> None:
        """Write the message somewhere."""
        ...

    with pytest.raises(TypeError, match="returns None"):
        llm_function(log)


def test_an_unsupported_return_type_is_refused_at_decoration() -> None:
    class Opaque:
        pass

    def make() -> Opaque:
        """Make one."""
        ...

    with pytest.raises(TypeError, match=r"make returns Opaque, which has no JSON schema"):
        llm_function(make)
