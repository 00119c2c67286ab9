"""Scoring's writes, one module per use case.

- ``close``: the quarter close (scorecards, tier decisions, the quarter's money and red
  flags) and the daily red-flag refresh, which shares its gathering;
- ``reviews``: quarterly business reviews and joint business plans.

The dashboard's figures are reads: ``scoring.dashboard``, beside ``scoring.queries``.
Callers import from the module of their use case; nothing is re-exported here.
"""
