"""Reading a mailbox: who has read which message, and the message list (search, filters,
keyset pages) the web screens show."""
