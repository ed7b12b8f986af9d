"""The only place a permission is decided; the UI, the CLI and tasks all ask here."""
