"""Conditions that leave a bundle's item out for an applicant it does not concern: a tiny
expression over one answer of the bundle's merged form, read from data and evaluated without
``eval``.

A condition names one field of the merged form and one test, written in TOML as an inline
table::

    { field = "mother_employee_insured", equals = true }      the answer is exactly this value
    { field = "household_type", in = ["urban", "rural"] }      the answer is one of these values
    { field = "child_count", at_least = 2 }                    the answer is a number >= this

Equality is strict about kinds: ``true`` is not ``1``, ``"2"`` is not ``2``. The item applies
when its condition holds; an item with no condition always applies. The seed checks each
condition against the merged form (the field exists, the values fit its schema, ``at_least``
only on a number), so a condition can always be decided once its field is answered.
"""

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

#: The tests a condition may make, each of one answer.
OPERATORS = ("equals", "in", "at_least")


class ConditionError(ValueError):
    """A condition the data gives is not one this module can decide; the message says why."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(left: Any, right: Any) -> bool:
    # JSON's true is not 1: Python's == says it is.
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def check_condition(condition: Any, properties: Mapping[str, Any]) -> dict[str, Any]:
    """The condition as stored, checked against the merged form's ``properties``; a
    ``ConditionError`` when it cannot be decided from an answer to that form."""
    if not isinstance(condition, Mapping):
        raise ConditionError("a condition is a table: { field = ..., equals|in|at_least = ... }")
    field = condition.get("field")
    operators = [key for key in condition if key != "field"]
    if not isinstance(field, str) or field not in properties:
        raise ConditionError(f"condition field {field!r} is not a field of the bundle's form")
    if len(operators) != 1 or operators[0] not in OPERATORS:
        raise ConditionError(
            f"condition on {field!r} takes exactly one of {', '.join(OPERATORS)}, "
            f"not {sorted(operators)}"
        )
    operator = operators[0]
    operand = condition[operator]
    definition = properties[field]
    fits = Draft202012Validator(definition).is_valid
    if operator == "equals" and not fits(operand):
        raise ConditionError(
            f"condition on {field!r}: {operand!r} is not an answer the field takes"
        )
    if operator == "in" and (
        not isinstance(operand, list) or not operand or not all(fits(value) for value in operand)
    ):
        raise ConditionError(
            f"condition on {field!r}: `in` takes a non-empty list of answers the field takes"
        )
    if operator == "at_least" and (
        not _is_number(operand) or definition.get("type") not in ("integer", "number")
    ):
        raise ConditionError(
            f"condition on {field!r}: `at_least` compares a number field with a number"
        )
    return {"field": field, operator: operand}


def condition_field(condition: Mapping[str, Any]) -> str:
    return str(condition["field"])


def holds(condition: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    """Whether the condition holds for these answers; its field must be answered (the caller
    refuses answers that leave it out)."""
    answer = answers[condition_field(condition)]
    if "equals" in condition:
        return _same(answer, condition["equals"])
    if "in" in condition:
        return any(_same(answer, value) for value in condition["in"])
    return _is_number(answer) and bool(answer >= condition["at_least"])
