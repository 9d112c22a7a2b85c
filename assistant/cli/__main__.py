"""`python -m assistant.cli`: the same as the `draftpad` command."""

from assistant.cli import main

raise SystemExit(main())
