"""Leads and Cases: the named actions that create them."""
