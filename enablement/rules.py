"""RULEBOOK §10 as pure functions: the ideal-partner fit score, onboarding dates and
progress, certification reminders."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

REMINDER_DAYS = 30


@dataclass(frozen=True)
class Criterion:
    field: str
    test: str  # "gte" or "in"
    value: str
    points: int


@dataclass(frozen=True)
class FitLine:
    criterion: str
    met: bool
    points: int


def _number(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None


def criterion_met(criterion: Criterion, value) -> bool:
    if criterion.test == "gte":
        have, need = _number(value), _number(criterion.value)
        return have is not None and need is not None and have >= need
    if criterion.test == "in":
        options = {part.strip().lower() for part in criterion.value.split(",") if part.strip()}
        return str(value).strip().lower() in options
    return False


def fit_score(values: dict, criteria: list[Criterion]) -> tuple[Decimal, list[FitLine]]:
    """Share of the profile's points the applicant earns, 0–100, one decimal; and why."""
    total = sum(c.points for c in criteria)
    lines = []
    earned = 0
    for criterion in criteria:
        met = criterion_met(criterion, values.get(criterion.field))
        earned += criterion.points if met else 0
        label = f"{criterion.field} {'≥' if criterion.test == 'gte' else 'in'} {criterion.value}"
        lines.append(FitLine(label, met, criterion.points))
    if not total:
        return Decimal("0.0"), lines
    score = (Decimal(earned) * 100 / Decimal(total)).quantize(Decimal("0.1"))
    return score, lines


def due_on(start: date, due_days: int) -> date:
    return start + timedelta(days=due_days)


def progress(done: int, total: int) -> int:
    """Percent complete, whole numbers; an empty plan is 0%."""
    return round(done * 100 / total) if total else 0


def remind_on(expires_on: date, days: int = REMINDER_DAYS) -> date:
    """The day the holder is reminded: ``days`` before the certification expires."""
    return expires_on - timedelta(days=days)
