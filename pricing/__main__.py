"""``python -m pricing``: see pricing/cli.py."""

from pricing.cli import main

raise SystemExit(main())
