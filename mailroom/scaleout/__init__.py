"""What the scale-out processes (``mailroom web``, ``worker``, ``watch``, ``beat``) share."""
