"""Reflex State classes, one per page; they call services and never query the database themselves."""
