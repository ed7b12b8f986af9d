"""Processing of stored messages: a declared pipeline of small steps run by one engine."""
