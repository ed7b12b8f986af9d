"""URL patterns of the UI's areas, one module each; ``mailroom.web.urls`` includes them all."""
