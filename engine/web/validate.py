"""Checking a new assessment, for the form and the API alike: every problem at once, each with the
field it belongs to and a message that says what to do."""
from __future__ import annotations

from dataclasses import dataclass

from ..questionnaire import SCOPES
from .results import org_key

MAX_NAME = 200
MAX_ORGANISATIONS = 50
MIN_GROUP = (2, 50)
GAP = (0.5, 4.0)


@dataclass
class NewAssessment:
    partnership: str
    scope: str
    organisations: list[str]
    min_group: int
    gap: float
    show_individual: bool


def clean_name(text: str) -> str:
    """Whitespace collapsed, as `assess` groups organisation names."""
    return " ".join(text.split())


def organisations_from_text(text: str) -> list[str]:
    return [clean_name(line) for line in text.splitlines() if line.strip()]


def check(partnership: str, scope: str, organisations: list[str], min_group: object, gap: object,
          show_individual: bool) -> tuple[NewAssessment | None, dict[str, str]]:
    errors: dict[str, str] = {}
    name = clean_name(partnership or "")
    if _control(name):
        errors["partnership"] = "The name holds an invisible control character (such as a NUL byte); type it again."
    elif not name:
        errors["partnership"] = "Give the partnership a name."
    elif len(name) > MAX_NAME:
        errors["partnership"] = f"The name is {len(name)} characters long; keep it to {MAX_NAME}."
    if scope not in SCOPES:
        errors["scope"] = f"Choose one of: {', '.join(SCOPES)}."
    orgs = [clean_name(o) for o in organisations if clean_name(o)]
    seen: dict[str, str] = {}
    if not orgs:
        errors["organisations"] = "List the partner organisations, one per line."
    elif len(orgs) > MAX_ORGANISATIONS:
        errors["organisations"] = f"{len(orgs)} organisations listed; at most {MAX_ORGANISATIONS}."
    else:
        for org in orgs:
            if _control(org):
                errors["organisations"] = "A name holds an invisible control character (such as a NUL byte); type it again."
                break
            if len(org) > MAX_NAME:
                errors["organisations"] = f"“{org[:40]}…” is longer than {MAX_NAME} characters."
                break
            if org_key(org) in seen:
                errors["organisations"] = f"“{org}” is listed twice (names are compared ignoring case and spaces)."
                break
            seen[org_key(org)] = org
    group = _number(min_group, int)
    if group is None or not MIN_GROUP[0] <= group <= MIN_GROUP[1]:
        errors["min_group"] = (f"The minimum group size is a whole number from {MIN_GROUP[0]} to {MIN_GROUP[1]}: "
                               "an organisation with fewer respondents is shown with its count only.")
    threshold = _number(gap, float)
    if threshold is None or not GAP[0] <= threshold <= GAP[1]:
        errors["gap"] = f"The perception-gap threshold is a number from {GAP[0]:g} to {GAP[1]:g} on the 1–5 scale."
    if errors:
        return None, errors
    return NewAssessment(name, scope, orgs, group, threshold, bool(show_individual)), {}  # type: ignore[arg-type]


def _control(text: str) -> bool:
    """A character no name needs and PostgreSQL cannot store (NUL) or a terminal would act on."""
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _number(value: object, kind: type) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = value
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
    if kind is int:
        return int(number) if float(number).is_integer() else None
    return float(number)
