"""What this app announces to the apps above it, which it cannot import (ARCHITECTURE.md):
``integrations`` turns each into an event for webhooks and the CRM sync. Sent inside the
transaction of the change; receivers write in that transaction too."""

from django.dispatch import Signal

# changes: the TierChange rows just recorded (a manager's override, or a close's batch).
tier_changed = Signal()
# flags: the RedFlag rows just opened.
red_flags_opened = Signal()
# leads: the Lead rows just passed to a partner (``lead.partner`` set or changed).
lead_assigned = Signal()
