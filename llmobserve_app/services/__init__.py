"""Business logic. No Reflex imports here: State classes and the ingest API both call these functions."""
