"""The sandbox worker: a standard-library-only script run as ``python -I worker.py``.

It is started from a clean interpreter (not forked from the user's process, so no loaded
model and no secrets in memory, and nothing re-runs the user's ``__main__``), limits itself,
then answers requests read from stdin, one length-prefixed JSON frame each. The sandboxed
code's own prints go to stderr so they cannot corrupt the protocol.

The encode/decode half of the protocol is imported from here by the parent too, so both
sides share one definition.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from typing import IO, Any

_HEADER = struct.Struct(">I")


class Unsendable(TypeError):
    """A value that has no data form (an object, a function, a file...)."""


def encode(value: Any) -> Any:
    """Tagged JSON form of plain data (tuples, sets, bytes and non-string keys survive)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else {"$float": repr(value)}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"$set": [encode(v) for v in value]}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"$dict": [[encode(k), encode(v)] for k, v in value.items()]}
    raise Unsendable(type(value).__name__)


def decode(data: Any) -> Any:
    """Inverse of ``encode``; builds only plain data types."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if len(data) == 1:
        ((tag, body),) = data.items()
        if tag == "$tuple":
            return tuple(decode(v) for v in body)
        if tag == "$set":
            return {decode(v) for v in body}
        if tag == "$bytes":
            return bytes.fromhex(body)
        if tag == "$float":
            return float(body)
        if tag == "$dict":
            return {decode(k): decode(v) for k, v in body}
    return {k: decode(v) for k, v in data.items()}


def write_frame(stream: IO[bytes], obj: Any) -> None:
    body = json.dumps(obj).encode()
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("sandbox pipe closed")
    (size,) = _HEADER.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        raise EOFError("sandbox pipe closed mid-frame")
    return json.loads(body)


# -- limits -----------------------------------------------------------------------------------

_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL", "AUTH")
_PROCESSES = "starting processes is not allowed in the sandbox"
_BLOCKED_PREFIXES = {
    "socket.": "network access is not allowed in the sandbox",
    "subprocess.": _PROCESSES, "os.exec": _PROCESSES, "os.spawn": _PROCESSES, "os.posix_spawn": _PROCESSES,
    "os.fork": _PROCESSES, "os.system": _PROCESSES, "pty.spawn": _PROCESSES,
    "ctypes.": "ctypes is not allowed in the sandbox",
}  # fmt: skip
_PATH_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate",
                "os.symlink", "os.link", "os.utime", "shutil.rmtree", "shutil.move", "shutil.copyfile"}  # fmt: skip
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def install_guard(scratch: str) -> None:
    """Refuse sockets, new processes, ctypes and writes outside ``scratch`` (audit hook:
    it cannot be removed once added)."""
    scratch = os.path.realpath(scratch)

    def inside(path: Any) -> bool:
        if isinstance(path, int):  # an already open descriptor
            return True
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return real == scratch or real.startswith(scratch + os.sep)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        for prefix, message in _BLOCKED_PREFIXES.items():
            if event.startswith(prefix):
                raise PermissionError(message)
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(flags & _WRITE_FLAGS)
            if writing and not inside(path):
                raise PermissionError(f"writing outside the sandbox's scratch folder is not allowed: {path!r}")
        elif event in _PATH_EVENTS:
            for path in args[:2]:
                if isinstance(path, (str, bytes, os.PathLike)) and not inside(path):
                    raise PermissionError(f"changing files outside the sandbox's scratch folder is not allowed: {path!r}")

    sys.addaudithook(hook)


def isolate_network() -> bool:
    """Move into a private network namespace (no usable interface) where the OS allows it."""
    try:
        import ctypes

        return bool(ctypes.CDLL(None, use_errno=True).unshare(0x40000000) == 0)  # CLONE_NEWNET
    except Exception:  # noqa: BLE001 - best effort; the audit hook still refuses sockets
        return False


def _vm_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


# -- running requests -------------------------------------------------------------------------


class _Placeholder:
    """Stands for ``self`` of a sandboxed method: instance state stays in the user's process."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"self.{name} is not available to sandboxed code (instance state stays outside)")


def _resolve_env(env: dict[str, Any]) -> dict[str, Any]:
    import importlib

    out: dict[str, Any] = {}
    for name, spec in env.items():
        try:
            if "module" in spec:
                out[name] = importlib.import_module(spec["module"])
            elif "ref" in spec:
                obj: Any = importlib.import_module(spec["ref"][0])
                for part in spec["ref"][1].split("."):
                    obj = getattr(obj, part)
                out[name] = getattr(obj, "_fn", obj)
            else:
                out[name] = decode(spec["value"])
        except Exception:  # noqa: BLE001 - a missing global surfaces as a NameError in the code
            continue
    return out


def run_request(request: dict[str, Any], cache: dict[str, Any], loop: Any = None) -> dict[str, Any]:
    import asyncio
    import traceback

    try:
        key = request["source"] + "\0" + json.dumps(request["env"], sort_keys=True)
        fn = cache.get(key)
        if fn is None:
            scope: dict[str, Any] = {"__builtins__": __builtins__, "__name__": "sandboxed"}
            scope.update(_resolve_env(request["env"]))
            local: dict[str, Any] = {}
            exec(compile(request["source"], f"<sandboxed {request['name']}>", "exec"), scope, local)  # noqa: S102
            fn = cache[key] = local[request["name"]]
        args = decode(request["args"])
        if request.get("self_placeholder"):
            args = [_Placeholder(), *args]
        result = fn(*args, **decode(request["kwargs"]))
        if asyncio.iscoroutine(result):
            result = (loop or asyncio.new_event_loop()).run_until_complete(result)
        return {"ok": encode(result)}
    except Unsendable as exc:
        return {"error": ["TypeError", f"a result of type {exc} cannot leave the sandbox (only plain data can)", ""]}
    except MemoryError:
        return {"error": ["MemoryError", "the sandbox's memory limit was exceeded", ""]}
    except BaseException as exc:  # noqa: BLE001 - everything is reported back as data
        frames = [line for line in traceback.format_tb(exc.__traceback__) if "<sandboxed " in line]
        return {"error": [type(exc).__name__, str(exc), "".join(frames[-3:])]}


def main() -> None:
    import asyncio
    import resource
    import traceback  # noqa: F401 - imported before the guard, used by run_request

    config = read_frame(sys.stdin.buffer)
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the code's prints go to stderr, never into the protocol stream
    sys.path[:0] = [p for p in config["path"] if p not in sys.path]
    for var in list(os.environ):
        if any(word in var.upper() for word in _SECRET_WORDS):
            del os.environ[var]
    isolated = isolate_network()
    limit = _vm_bytes() + config["memory_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (config["cpu_seconds"], config["cpu_seconds"]))
    os.chdir(config["scratch"])
    loop = asyncio.new_event_loop()  # its self-pipe is a socket: made before sockets are refused
    install_guard(config["scratch"])
    write_frame(protocol, {"ready": True, "network_namespace": isolated})
    cache: dict[str, Any] = {}
    while True:
        try:
            request = read_frame(sys.stdin.buffer)
        except EOFError:
            return
        write_frame(protocol, run_request(request, cache, loop))


if __name__ == "__main__":
    main()
