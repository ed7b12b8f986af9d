"""Autoresponse conditions: pure predicates over a message's fields."""
