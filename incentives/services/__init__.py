"""The money engine's writes (RULEBOOK §5–§7), one module per use case.

Callers above (deals, scoring) tell this app what happened with plain facts; it computes
what is owed with ``rules`` and records it in the ledger. Every entry carries an
idempotency key unique in the database, so a retried task, a rerun close or a double
click adds nothing. Money rows are locked (fund, then request, then claim) before they
change, so concurrent approvals can never overspend a fund or pay twice.

- ``ledger``: accruals (won deals, the quarter close), awards, payment runs;
- ``claims``: incentive claims and disputes, overdue claims, lapsed entries;
- ``contributions``: references and community work, and their bonuses;
- ``mdf``: funds, activity requests and MDF claims;
- ``common``: the refusal they all raise, and the rules more than one applies.

Callers import from the module of their use case; nothing is re-exported here.
"""
