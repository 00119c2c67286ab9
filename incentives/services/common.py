"""What the money engine's use cases share: the refusal they raise, the entries that wait
for a claim, and when an approved amount falls due."""

from datetime import date

from partners.models import Program
from partners.queries import business_calendar

from ..models import EntryKind

CLAIMABLE_KINDS = (EntryKind.SPIFF, EntryKind.BONUS)


class IncentiveError(Exception):
    """A refusal with an HTTP status, a machine code and words a partner understands."""

    def __init__(self, message: str, *, code: str, status: int = 409):
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


def _wrong_state(obj, action: str) -> IncentiveError:
    return IncentiveError(
        f"This {obj._meta.verbose_name} is {obj.get_status_display().lower()}; "
        f"it cannot be {action}.",
        code="wrong_state",
    )


def _payment_due(program: Program, approved_on: date) -> date:
    return business_calendar(program).add(approved_on, program.claim_payment_business_days)
