"""`workbench config`: a run's resolved config, or every key's table (docs/config.md)."""

from __future__ import annotations

import argparse

import yaml

from workbench.algorithm import algorithms


def _config(args: argparse.Namespace) -> int:
    from workbench.app import runconfig as cfg
    from workbench.algorithm import algorithm_class
    if args.docs:
        print(cfg.reference_markdown(), end="")
        return 0
    missing = [f"--{k}" for k in ("algo", "task") if not getattr(args, k)]
    if missing:
        raise ValueError(f"config needs {', '.join(missing)} (or --docs)")
    config = cfg.resolve(algorithm_class(args.algo), args.config, args.set, task=args.task,
                         seed=args.seed)
    print(yaml.safe_dump(config, sort_keys=False), end="")
    return 0


def register(sub) -> None:
    conf = sub.add_parser("config", help="print the resolved config of a run, without running")
    conf.add_argument("--algo", help="algorithm: " + (", ".join(sorted(algorithms())) or "-"))
    conf.add_argument("--task", help="task family, or gym:ID / gym:module:Class")
    conf.add_argument("--config", help="YAML file of config keys")
    conf.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    conf.add_argument("--seed", type=int, default=None)
    conf.add_argument("--docs", action="store_true",
                      help="print every section's key table (docs/config.md)")
    conf.set_defaults(func=_config)
