"""The customer database: mock customers written by an LLM, searched in plain language.

    python examples/customer_database.py                 # offline: a scripted stand-in model
    python examples/customer_database.py --llm local     # the embedded SmolLM2-135M (typed, not smart)
    python examples/customer_database.py --llm openai/gpt-4o-mini

1. ``mock_customers`` is an ``@llm_function`` returning ``list[Customer]``: the model's JSON
   is decoded (under the schema, for the local model) into real ``Customer`` objects with a
   ``Segment`` enum, or re-asked with the error.
2. ``CustomerDatabase`` is an ``@llm_strategy`` dataclass: ``search`` and ``summary`` are
   stubs the LLM implements, ``find`` and ``add`` are ordinary code using them.
3. The ``search`` docstring is a trainable parameter: one OptoPrime step turns the feedback
   "young means under 30" into a better instruction, and the next search follows it.

Offline, ``stand_in`` plays the model: it reads the prompt the library built (the function
definition, its docstring, the arguments as JSON) and answers as a model would.
"""

from __future__ import annotations

import argparse
import enum
import json
import re
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

from optimizers import OptoPrime
from trace_opt.errors import ReplyParseError
from trace_opt.functions import llm_function, llm_functions, llm_strategy
from trace_opt.llm import FunctionLLM, LocalLLM, resolve, use


class Segment(enum.Enum):
    NEW = "new"
    REGULAR = "regular"
    VIP = "vip"


@dataclass
class Customer:
    """A customer of a small online tea shop."""

    name: str
    age: int
    city: str
    email: str
    segment: Segment


@llm_function
def mock_customers(n: int, theme: str) -> list[Customer]:
    """Exactly `n` varied, realistic customers of a small online tea shop, in the spirit of `theme`."""
    ...


@llm_strategy
@dataclass
class CustomerDatabase:
    """An in-memory table of the shop's customers."""

    customers: list[Customer] = field(default_factory=list)

    def search(self, query: str) -> list[int]:
        """The 0-based positions in `customers` of every customer matching the query."""
        ...

    @property
    def summary(self) -> str:
        """One sentence describing who the customers are."""
        ...

    def find(self, query: str) -> list[Customer]:
        return [self.customers[i] for i in self.search(query) if 0 <= i < len(self.customers)]

    def add(self, customer: Customer) -> None:
        self.customers.append(customer)


# -- the offline stand-in model ------------------------------------------------------------------

FIRST = ["Ada", "Bruno", "Chen", "Dara", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas"]
CITIES = ["Paris", "Lyon", "Berlin", "Paris", "Madrid", "Oslo", "Rome", "Berlin", "Lisbon", "Vienna"]
AGES = [23, 41, 35, 19, 52, 28, 67, 33, 45, 26]


def _arguments(prompt: str) -> dict[str, Any]:
    block = prompt.split("Arguments:\n", 1)[1].split("\n\n", 1)[0]
    return {m[1]: json.loads(m[2]) for m in re.finditer(r"^(\w+) = (.*)$", block, re.M)}


def _search(customers: list[dict[str, Any]], query: str, instruction: str) -> list[int]:
    q = query.casefold()
    young = 30 if "younger than 30" in instruction else 45  # a "model" that needs telling what young means
    hits = []
    for i, c in enumerate(customers):
        if (c["city"].casefold() in q) or (c["segment"] in q) or ("young" in q and c["age"] < young):
            hits.append(i)
    return hits


def stand_in(messages: list[dict[str, Any]], **params: Any) -> str:
    prompt = messages[-1]["content"]
    if "#Variables" in prompt:  # OptoPrime asking for a better instruction
        name = re.search(r"\b(search_instruction_\d+)\b", prompt)
        better = "The 0-based positions in `customers` of every customer matching the query. 'Young' means younger than 30."
        return json.dumps({"reasoning": "Say what 'young' means.", "suggestion": {name[1] if name else "": better}})
    args = _arguments(prompt)
    if "def mock_customers" in prompt:
        n = int(args["n"])
        return json.dumps([
            {"name": FIRST[i % 10], "age": AGES[i % 10], "city": CITIES[i % 10],
             "email": f"{FIRST[i % 10].lower()}@example.com", "segment": ["new", "regular", "vip"][i % 3]}
            for i in range(n)
        ])  # fmt: skip
    if "def search" in prompt:
        instruction = prompt.split("def search", 1)[1].split('"""', 2)[1]
        return json.dumps(_search(args["self"]["customers"], args["query"], instruction))
    if "def summary" in prompt:
        cities = sorted({c["city"] for c in args["self"]["customers"]})
        return json.dumps(f"{len(args['self']['customers'])} tea lovers from {', '.join(cities)}.")
    return '""'


# -- the program ---------------------------------------------------------------------------------


def attempt(label: str, compute: Callable[[], Any], show: bool = True) -> Any:
    """Print what ``compute`` returns; a model that gives no usable answer is reported, not fatal."""
    try:
        value = compute()
    except ReplyParseError as e:
        print(f"{label}: no usable answer ({str(e).splitlines()[0][:100]}...)")
        return None
    if show:
        print(f"{label}: {value}")
    return value


def main(argv: list[str] | None = None) -> CustomerDatabase:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", default="scripted", help="'scripted' (offline), 'local', or a litellm model name")
    parser.add_argument("-n", type=int, default=6, help="how many mock customers to create")
    args = parser.parse_args(argv)
    if args.llm == "scripted":
        llm: Any = FunctionLLM(stand_in, name="customer-db-stand-in")
        print("note: a scripted stand-in (FunctionLLM) plays the model, offline; its answers are written in this file, not learned -- pass --llm local or --llm openai/gpt-4o-mini for a real model")
    elif args.llm == "local":
        # A 135M model repeats itself: a repeat penalty and a token limit keep its answers finite.
        llm = LocalLLM(max_tokens=120 + 60 * args.n, temperature=0.2, repeat_penalty=1.2)
    else:
        llm = resolve(args.llm)

    with use(llm):
        customers = attempt("mock customers", lambda: mock_customers(args.n, theme="tea lovers across Europe"), show=False)
        if not customers:  # a small local model may not manage; carry on with two written by hand
            customers = [Customer("Ada", 23, "Paris", "ada@example.com", Segment.NEW),
                         Customer("Bruno", 41, "Lyon", "bruno@example.com", Segment.VIP)]  # fmt: skip
        db = CustomerDatabase(customers)
        print(f"{len(customers)} customers, each a {type(customers[0]).__name__}:")
        for c in customers:
            print(f"  {c.name:<10} {c.age:>3}  {c.city:<10} {c.segment.value}")
        attempt("summary", lambda: db.summary)
        for query in ["customers who live in Paris", "our vip customers", "young customers"]:
            attempt(repr(query), lambda q=query: [c.name for c in db.find(q)])

        # The search instruction is a parameter: feedback on a result trains it.
        search = llm_functions(CustomerDatabase)["search"]
        out = db.search.traced("young customers")
        names = [db.customers[i].name for i in out.data if 0 <= i < len(db.customers)]
        optimizer = OptoPrime(search.parameters(), llm=llm)
        optimizer.zero_feedback()
        optimizer.backward(out, f"Got {names}; 'young' means younger than 30, so only those should match.")
        attempt("optimizer step", lambda: optimizer.step() and "done")
        print("new instruction:", search.instruction.data)
        attempt("'young customers' now", lambda: [c.name for c in db.find("young customers")])
    return db


if __name__ == "__main__":
    main()
