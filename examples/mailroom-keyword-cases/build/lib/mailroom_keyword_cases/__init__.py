"""A mailroom processor: a Case for mail that mentions one of your keywords."""
