"""LLM Observe: the Reflex app, its services and its data layer."""
