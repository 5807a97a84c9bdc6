"""The stackeval plugin comes from its ``pytest11`` entry point (``pip install -e .``); nothing to
register here."""
