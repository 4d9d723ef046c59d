"""Ingest: from SDK events to stored rows and rollups, in one transaction per batch.

``schema`` (wire models, validation; ``fast_schema``: the msgspec fast path) → ``rows`` (an event priced into
an ``events`` row) → ``batch`` (a tenant's rows and their rollups, ``rollup_rows``) → ``store`` (the one
routine that writes a batch, through SQLAlchemy or the APSW writer process), with the statements of ``sql``;
``writers`` tells a process whether it alone writes spend to its database (the caps check's memory relies on
it). Speed: docs/BENCHMARKS.md.
"""
