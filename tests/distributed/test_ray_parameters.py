"""Parameters go by value (code included), each task records the version it ran, and code an
optimizer wrote runs in the worker's sandbox, exactly as it would in the driver."""

from __future__ import annotations

import functools
from typing import Any

import trace_opt as trace
from trace_opt.distributed import last_tasks, parameter_version

style = trace.node("polite", trainable=True, name="style")


@trace.bundle(trainable=True)
def reply(style, text):
    """Reply to the text in the given style."""
    return f"[{style}] {text}"


def respond(text: Any) -> Any:
    return reply(style, text)


def test_tasks_run_the_driver_values_and_record_their_version(local_ray: Any) -> None:
    first = trace.map(respond, ["hi", "yo"], executor="ray")
    v1 = {r.parameter_version for r in last_tasks()}
    assert [o.data for o in first] == ["[polite] hi", "[polite] yo"]
    style.assign("curt")
    second = trace.map(respond, ["hi"], executor="ray")
    v2 = last_tasks()[0]
    assert second[0].data == "[curt] hi"
    assert len(v1) == 1 and v2.parameter_version not in v1
    assert style.version in v2.parameters.values()  # the version counter it received
    # The driver can tell which of its states a task ran: the same hash over its own values.
    assert v2.parameter_version == parameter_version([style, reply.parameter])
    style.assign("polite")


def test_code_written_by_an_optimizer_runs_sandboxed_in_the_worker(local_ray: Any) -> None:
    original = reply.parameter.data
    new_code = 'def reply(style, text):\n    import os\n    return f"{style}:{text}:{os.getpid()}"'
    reply.parameter.assign(new_code)
    try:
        out = trace.map(respond, ["hi"], executor="ray")[0]
        record = last_tasks()[0]
        prefix, worker_pid = out.data.rsplit(":", 1)
        assert prefix == "polite:hi"
        # The sandbox is a child process of the worker: neither the driver nor the worker ran it.
        assert int(worker_pid) not in (record.pid, __import__("os").getpid())
        assert out.parents[-1] is reply.parameter and out.op is reply.info
    finally:
        reply.parameter.assign(original)


class Greeter:
    def __init__(self, greeting: str) -> None:
        self.greeting = greeting

    def greet(self, name: Any) -> Any:
        return reply(style, f"{self.greeting} {name}")


def test_user_code_reached_only_through_a_library_callable_goes_by_value(local_ray: Any) -> None:
    """The mapped callable is a library object (``functools.partial``, like a trainer's closure)
    and this test module's class and function sit only inside it: they must still go by value
    -- a worker cannot import this module -- and be unregistered again after the map."""
    from ray import cloudpickle

    out = trace.map(functools.partial(Greeter.greet, Greeter("hello")), ["ann"], executor="ray")
    assert out[0].data == "[polite] hello ann" and out[0].parents[0] is style
    assert __name__ not in cloudpickle.list_registry_pickle_by_value()
