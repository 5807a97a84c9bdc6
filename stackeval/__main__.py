"""``python -m stackeval``: the command-line interface."""

from stackeval.cli import main

raise SystemExit(main())
