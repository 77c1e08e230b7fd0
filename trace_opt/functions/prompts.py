"""The prompt an LLM-implemented function sends, kept as data.

``str.format`` templates; each placeholder is documented above its template. The docstring
of the function is *not* here: it is the trainable instruction, rendered into ``{definition}``.
"""

from __future__ import annotations

__all__ = ["ARGUMENT", "CALL", "NO_ARGUMENTS", "SYSTEM", "TYPES"]

SYSTEM = (
    "You are the body of a Python function. You see its definition, whose docstring says what it "
    "computes, and the arguments of one call. Work out the value this call returns and reply with "
    "that value as JSON, nothing else."
)

#: {definition}: the def (inside its class for a method), with the current docstring;
#: {types}: the TYPES block, or nothing; {arguments}: ARGUMENT lines, or NO_ARGUMENTS;
#: {call}: how it was called, e.g. ``search(customers, query)``; {returns}: the return type;
#: {schema}: the JSON schema of the return value (named types refer to the TYPES block).
CALL = (
    "{definition}\n\n"
    "{types}"
    "Arguments:\n{arguments}\n\n"
    "Reply with the value {call} returns, as JSON of type {returns} matching this JSON schema:\n{schema}\n"
    "Output only the JSON value, no explanation and no code fence."
)

#: {types}: one ``Name: <JSON schema>`` line per named type (dataclass, Enum, model...).
TYPES = "Types (JSON schemas, referred to as #/$defs/Name):\n{types}\n\n"

#: {name}: the parameter (``*args`` / ``**kwargs`` keep their stars); {value}: its JSON.
ARGUMENT = "{name} = {value}"

NO_ARGUMENTS = "(none)"
