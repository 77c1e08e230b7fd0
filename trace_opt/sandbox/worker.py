"""The sandbox worker: a standard-library-only script run as ``python -I worker.py``.

It starts from a clean interpreter (not forked from the user's process: no loaded model, no
secrets in memory, the user's ``__main__`` never re-runs), usually inside bubblewrap's
namespaces (see ``isolation.py``). Before it reads any code it limits itself: rlimits, a
seccomp filter (no new processes, no sockets, no ptrace, no namespace or mount calls), and an
audit hook as defence in depth. Then it serves ONE function: the first request carries the
source, later ones only arguments, so code a request brings can never run in a worker that
later serves other code.

Frames are a 4-byte big-endian length and a JSON body. The code's own prints go to stderr so
they cannot corrupt the protocol. The encode/decode half is imported from here by the parent
too, so both sides share one definition.
"""

from __future__ import annotations

import errno
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


def frame(obj: Any) -> bytes:
    body = json.dumps(obj).encode()
    return _HEADER.pack(len(body)) + body


def write_frame(stream: IO[bytes], obj: Any) -> None:
    stream.write(frame(obj))
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

_PROCESSES = "starting processes is not allowed in the sandbox"
_BLOCKED_PREFIXES = (
    ("socket.", "network access is not allowed in the sandbox"),
    ("subprocess.", _PROCESSES), ("os.exec", _PROCESSES), ("os.spawn", _PROCESSES), ("os.posix_spawn", _PROCESSES),
    ("os.fork", _PROCESSES), ("os.system", _PROCESSES), ("pty.spawn", _PROCESSES),
    ("ctypes.", "ctypes is not allowed in the sandbox"),
)  # fmt: skip
_PATH_EVENTS = frozenset({"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate",
                          "os.symlink", "os.link", "os.utime", "shutil.rmtree", "shutil.move", "shutil.copyfile"})  # fmt: skip
_NEW_ENTRY_EVENTS = frozenset({"os.mkdir", "os.symlink", "os.link"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def scratch_usage(root: str, stop_after: int) -> tuple[int, int, str | None]:
    """(entries, bytes on disk, a folder that could not be read or None) under ``root``.

    Every entry counts (files, folders, links, fifos); links are not followed. Counting stops
    once it passes ``stop_after`` entries, so a flooded folder costs no more than a full one.
    Used by the worker's guard and, authoritatively, by the parent after every call."""
    entries = size = 0
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as found:
                for entry in found:
                    entries += 1
                    if entries > stop_after:
                        return entries, size, None
                    st = entry.stat(follow_symlinks=False)
                    size += st.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
        except FileNotFoundError:  # removed while we looked
            continue
        except OSError:
            return entries, size, folder
    return entries, size, None


class _Scratch:
    """The scratch folder as the guard sees it: which paths are in it, and room for entries.

    Creations are counted (cheap); when that count reaches ``max_files`` what is really there
    is counted, so files the code deleted make room again."""

    def __init__(self, root: str, max_files: int | None) -> None:
        self.root = os.path.realpath(root)
        self.max_files = max_files
        self.known = 0  # entries in the folder, at most

    def holds(self, path: Any) -> bool:
        if isinstance(path, int):  # an already open descriptor
            return True
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return real == self.root or real.startswith(self.root + os.sep)

    def new_entry(self) -> None:
        if self.max_files is None:
            return
        self.known += 1
        if self.known > self.max_files:
            self.known = scratch_usage(self.root, self.max_files)[0] + 1
            if self.known > self.max_files:
                self.known -= 1
                raise OSError(errno.EDQUOT, f"the sandbox's scratch folder holds at most {self.max_files} files and "
                              "folders: delete ones you no longer need before making more")  # fmt: skip


def install_guard(scratch: str, max_files: int | None = None) -> None:
    """Audit hook refusing sockets, new processes, ctypes, writes outside ``scratch`` and, with
    ``max_files``, new entries past that many in it.

    Defence in depth only: the code it watches shares its interpreter and can get around it.
    The boundary is the OS (namespaces, read-only mounts, seccomp), and the parent counts the
    scratch folder after every call."""
    room = _Scratch(scratch, max_files)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.__new__" and len(args) > 1 and args[1] == 1:  # AF_UNIX: asyncio's self-pipe;
            return  # binding and connecting one stay refused below
        for prefix, message in _BLOCKED_PREFIXES:
            if event.startswith(prefix):
                raise PermissionError(message)
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(flags & _WRITE_FLAGS)
            if writing and not room.holds(path):
                raise PermissionError(f"writing outside the sandbox's scratch folder is not allowed: {path!r}")
            creating = (isinstance(mode, str) and any(c in mode for c in "wxa")) or bool(flags & os.O_CREAT)
            if creating and not isinstance(path, int) and not os.path.lexists(path):
                room.new_entry()
        elif event in _PATH_EVENTS:
            for path in args[:2]:
                if isinstance(path, (str, bytes, os.PathLike)) and not room.holds(path):
                    raise PermissionError(f"changing files outside the sandbox's scratch folder is not allowed: {path!r}")
            if event in _NEW_ENTRY_EVENTS:
                room.new_entry()

    sys.addaudithook(hook)


def install_seccomp(program: bytes) -> None:
    """Load a compiled BPF program (made by the parent with libseccomp) for this process.

    ``no_new_privs`` first: required to load a filter without privileges, and it keeps any
    later exec from gaining any."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buf = ctypes.create_string_buffer(program, len(program))
    prog = SockFprog(len(program) // 8, ctypes.addressof(buf))
    if libc.prctl(38, 1, None, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(22, 2, ctypes.addressof(prog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


def set_limits(config: dict[str, Any]) -> None:
    import resource

    limit = _vm_bytes() + config["memory_mb"] * 2**20
    limits = {
        resource.RLIMIT_AS: limit,
        resource.RLIMIT_CPU: config["cpu_seconds"],
        resource.RLIMIT_FSIZE: config["fsize_mb"] * 2**20,
        resource.RLIMIT_NOFILE: config["nofile"],
        resource.RLIMIT_CORE: 0,
    }
    if config.get("nproc"):  # counted per user namespace under bwrap; system-wide per user without it
        limits[resource.RLIMIT_NPROC] = config["nproc"]
    for which, value in limits.items():
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            if sys.platform.startswith("linux"):  # every one of them works there: never run unlimited
                raise


def _vm_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 256 * 2**20


# -- running requests -------------------------------------------------------------------------


class _Placeholder:
    """Stands for ``self`` of a sandboxed method: instance state stays in the user's process."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"self.{name} is not available to sandboxed code (instance state stays outside)")


def _compile(source: str, name: str, env: dict[str, Any], depth: int = 0) -> Any:
    scope: dict[str, Any] = {"__builtins__": __builtins__, "__name__": "sandboxed"}
    scope.update(_resolve_env(env, depth))
    # One namespace, as a module has: helpers the code defines next to the function are its
    # globals (with separate locals they were invisible to it: NameError).
    exec(compile(source, f"<sandboxed {name}>", "exec"), scope)  # noqa: S102
    return scope[name]


def _resolve_env(env: dict[str, Any], depth: int) -> dict[str, Any]:
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
            elif "function" in spec and depth < 4:
                f = spec["function"]
                out[name] = _compile(f["source"], f["name"], f["env"], depth + 1)
            elif "value" in spec:
                out[name] = decode(spec["value"])
        except Exception:  # noqa: BLE001 - a missing global surfaces as a NameError in the code
            continue
    return out


def run_request(request: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    import traceback
    import types

    reply: dict[str, Any] = {"id": request.get("id")}
    try:
        if "source" in request:
            if "fn" in state:
                raise RuntimeError("this sandbox worker already serves another function")
            state["fn"] = _compile(request["source"], request["name"], request["env"])
            state["placeholder"] = bool(request.get("self_placeholder"))
        fn = state["fn"]
        if request.get("values"):
            fn.__globals__.update({k: decode(v) for k, v in request["values"].items()})
        args = decode(request["args"])
        if state["placeholder"]:
            args = [_Placeholder(), *args]
        result = fn(*args, **decode(request["kwargs"]))
        if isinstance(result, types.CoroutineType):
            import asyncio  # only now: importing it costs a fifth of a cold start

            if "loop" not in state:
                state["loop"] = asyncio.new_event_loop()  # its self-pipe is an AF_UNIX socketpair
                asyncio.set_event_loop(state["loop"])  # code calling get_event_loop() gets this one
            result = state["loop"].run_until_complete(result)
        reply["ok"] = encode(result)
    except Unsendable as exc:
        reply["error"] = ["TypeError", f"a result of type {exc} cannot leave the sandbox (only plain data can)", ""]
    except MemoryError:
        reply["error"] = ["MemoryError", "the sandbox's memory limit was exceeded", ""]
    except BaseException as exc:  # noqa: BLE001 - everything is reported back as data
        frames = [line for line in traceback.format_tb(exc.__traceback__) if "<sandboxed " in line]
        reply["error"] = [type(exc).__name__, str(exc), "".join(frames[-3:])]
    return reply


def main() -> None:
    import traceback  # noqa: F401 - imported before the guard, used by run_request

    config = read_frame(sys.stdin.buffer)
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the code's prints go to stderr, never into the protocol stream
    sys.path[:] = [p for p in config["path"] if os.path.exists(p)]
    set_limits(config)
    os.chdir(config["scratch"])
    if config.get("seccomp"):
        install_seccomp(bytes.fromhex(config["seccomp"]))
    install_guard(config["scratch"], config.get("max_files"))
    write_frame(protocol, {"ready": True, "pid": os.getpid(), "seccomp": bool(config.get("seccomp"))})
    state: dict[str, Any] = {}
    cap = config["max_frame"]
    while True:
        try:
            request = read_frame(sys.stdin.buffer)
        except EOFError:
            return
        reply = frame(run_request(request, state))
        if len(reply) > cap:
            too_big = f"the result is {len(reply)} bytes; the sandbox's replies are capped at {cap} bytes"
            reply = frame({"id": request.get("id"), "error": ["ValueError", too_big, ""]})
        protocol.write(reply)
        protocol.flush()


if __name__ == "__main__":
    main()
