"""Actions on system mailboxes: create, change, check the connection, choose folders."""
