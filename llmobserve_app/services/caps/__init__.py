"""Spending caps: a limit on a scope's priced cost per UTC period, that warns and can block.

One job per module: ``periods`` (day/week/month bounds), ``spend`` (derived from the rollups), ``rules``
(an immutable cap), ``validation`` and ``crud``, ``registry`` (enabled caps cached per process),
``touched`` (the scopes of a batch), ``evaluation`` (status, projection, firing once), ``blocks`` (the blocked
list the SDK reads), ``headroom`` (the after-batch answer from memory while no level can have been reached)
and ``checks`` (after a batch, the status poll, the catch-up job).
"""
