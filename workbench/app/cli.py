"""The `workbench` command line (also `python -m workbench`).

Each sub-command lives in its own module of `workbench.app.commands` and registers itself;
algorithms are found through the entry-point group `workbench.algorithms` and further
sub-commands through `workbench.commands` (each a `register(subparsers)` function), so this
package never imports `es`, `baselines` or `reproductions`.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from workbench import __version__
from workbench.app.commands import bench, compare, config, tasks, train
from workbench.app.errors import CommandFailed

#: The built-in sub-commands, in the order `workbench --help` lists them.
BUILT_IN = (tasks, config, train, compare, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in BUILT_IN:
        command.register(sub)
    for ep in entry_points(group="workbench.commands"):
        ep.load()(sub)
    return parser


def _os_error(err: OSError) -> str:
    """One line for an operating-system refusal: what was refused, on which path."""
    if err.filename is None:
        return str(err)
    what = err.strerror or type(err).__name__
    paths = err.filename if err.filename2 is None else f"{err.filename} -> {err.filename2}"
    return f"{paths}: {what}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"workbench: error: {err}", file=sys.stderr)
        return 2
    except CommandFailed as err:  # workbench.app.errors: the input was fine, the work failed
        print(f"workbench: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        # An ordinary path mistake (missing, a directory, no permission, disk full)
        # reported by the operating system: one line naming the path. Only errors that
        # name a file land here; other OSErrors are not path mistakes and keep their
        # traceback.
        if err.filename is None and not isinstance(err, FileNotFoundError):
            raise
        print(f"workbench: error: {_os_error(err)}", file=sys.stderr)
        return 2
