"""The few fixed prompts the LLM layer sends itself, kept as data in one place.

They are ``str.format`` templates; the placeholders are documented next to each. Optimizer
prompts do not live here (they are in ``optimizers/prompts``).
"""

from __future__ import annotations

__all__ = ["CONSTRAINT_FEEDBACK", "INSTRUCT", "OBJECT", "OBJECT_REASK", "SELECT"]

#: {constraint}: the constraint's one-line description; {reason}: why the last reply failed.
CONSTRAINT_FEEDBACK = (
    "Your reply does not satisfy the required format: {constraint}.\n"
    "Problem: {reason}.\n"
    "Answer again with only the corrected output, nothing else."
)

#: {prompt}: the question; {options}: one option per line, each prefixed by "- ".
SELECT = "{prompt}\n\nChoose exactly one of these options:\n{options}\n\nAnswer with the option only, exactly as written."

#: {prompt}: the request; {name}: the type's name; {schema}: its JSON schema.
OBJECT = (
    "{prompt}\n\nReply with a single JSON object for a {name}, matching this JSON schema:\n{schema}\n"
    "Output only the JSON, no explanation and no code fence."
)

#: {error}: why the last reply could not be parsed or validated.
OBJECT_REASK = "That reply could not be used: {error}\nReply again with only the corrected JSON object."

#: {instruction}; {sections}: the optional input / examples / format blocks, already rendered.
INSTRUCT = "{instruction}{sections}"
