"""The server-rendered UI: thin views that call actions and access checks."""
