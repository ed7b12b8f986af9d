"""Replies people write in mailroom: the draft (subject, recipients, quote), queueing through
the outbox, the copy in the server's Sent folder, and the note on the conversation's Case.

A reply is an outbox row like an autoresponse, with an ``author`` and ``sent_copy`` set: it is
sent by the same exactly-once sender (``mailroom.outbox.send``), which then calls
:func:`mailroom.replies.after_send.after_sent`.
"""
