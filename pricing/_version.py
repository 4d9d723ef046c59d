"""Version of the bundled price data; bump it whenever pricing/data/*.json changes.

price_id strings carry it, so a stored cost says which data priced it (and history can be recomputed).
"""

PRICE_DATA_VERSION = "2026-11-23.1"
