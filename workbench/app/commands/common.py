"""What several commands share: checks of counts and the backend flags."""

from __future__ import annotations

import argparse

from workbench.backends import BACKENDS


def positive(flag: str, value: int | None, allowed: str = "a positive integer") -> None:
    """A count given on the command line: None means the default; anything below 1 is an
    error (never "use the default")."""
    if value is not None and value < 1:
        raise ValueError(f"{flag} must be {allowed}; got {value}")


def backend_flags(args: argparse.Namespace) -> dict[str, str]:
    """`--backend` / `--ray-address` (and `--threads` where the command has it), as config
    overrides (same as `--set backend=...`)."""
    flags = {"backend": args.backend, "ray_address": args.ray_address,
             "threads": getattr(args, "threads", None)}
    return {k: v for k, v in flags.items() if v is not None}


def add_backend_flags(parser: argparse.ArgumentParser, note: str = "") -> None:
    parser.add_argument("--backend", default=None, metavar="NAME",
                        help=f"where rollouts run: {', '.join(BACKENDS)} (default local; "
                             f"same as --set backend=NAME){note}")
    parser.add_argument("--ray-address", default=None, metavar="ADDRESS",
                        help="Ray cluster to use: auto, HOST:PORT or ray://HOST:PORT "
                             "(default: a running local cluster, else a new local instance)")
