"""`python -m workbench` runs the command line."""

from workbench.app.cli import main

raise SystemExit(main())
