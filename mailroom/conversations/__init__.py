"""Conversations: which conversation of its mailbox a message belongs to, and its Contact."""
