"""Run configuration: defaults, YAML files and `--set key=value` overrides, validated at once.

A config is a plain nested dict. Its keys are the common ones below plus each algorithm's
own `DEFAULTS`; `task.*` holds the task family's parameters (checked by the family) and
`adapt_options.*` an adaptation operator's options (checked by the operator). Values given
as strings (`--set`) are parsed as YAML scalars, then coerced to the default's type, so
`--set sigma=0.05` is a float and `--set policy=L` a string. An unknown key or a value of
the wrong type fails with what was wrong and what is allowed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

COMMON_DEFAULTS: dict[str, Any] = {
    "algo": None,
    "task": {"name": None},
    "iterations": 100,
    "seed": 0,
    "horizon": None,  # None: the task's default
    "K": 20,  # adaptation queries (rollouts) per task
    "policy": None,  # L, H, HH; None: the task's default (H for RL tasks)
    "width": None,  # hidden width; None: the task's default (32, A.7.2)
    "activation": None,  # tanh or relu; None: the task's default (relu, as the authors' code)
    "init": None,  # normal, reference or zeros; None: the task's default (normal)
    "eval_every": 10,
    "eval_adaptations": 200,  # test adaptations per evaluation, spread over the test tasks
    "checkpoint_every": 50,
    "backend": "local",  # local or ray (docs/distributed.md)
    "ray_address": None,  # None: a running local cluster if any, else a new local instance
    "ray_actors": 0,  # 0: one actor per ray_actor_cpus CPUs of the cluster
    "ray_actor_cpus": 1,  # CPUs (and physics threads) each actor declares and uses
    "budget_rollouts": 0,  # > 0: stop once this many training rollouts are spent
}
#: Keys whose value is a free-form mapping, validated by its owner.
OPEN_SECTIONS = ("task", "adapt_options")


def parse_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _coerce(key: str, value: Any, default: Any) -> Any:
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ValueError(f"config key {key!r} must be true or false; got {value!r}")
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"config key {key!r} must be an integer; got {value!r}")
    if isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ValueError(f"config key {key!r} must be a number; got {value!r}")
    if isinstance(default, str) and not isinstance(value, str):
        raise ValueError(f"config key {key!r} must be a string; got {value!r}")
    return value


def set_key(config: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.c = value`, checking the key against the defaults already in `config`."""
    parts = dotted.split(".")
    node = config
    for i, part in enumerate(parts[:-1]):
        if part not in node or not isinstance(node[part], dict):
            raise ValueError(f"unknown config key {dotted!r}; valid: {valid_keys(config)}")
        node = node[part]
    leaf = parts[-1]
    in_open = parts[0] in OPEN_SECTIONS and len(parts) > 1
    if leaf not in node and not in_open:
        raise ValueError(f"unknown config key {dotted!r}; valid: {valid_keys(config)}")
    if isinstance(node.get(leaf), dict) and not isinstance(value, dict):
        raise ValueError(f"config key {dotted!r} is a section; set its keys as {dotted}.KEY")
    if isinstance(value, dict):
        for k, v in value.items():
            if leaf not in node:
                node[leaf] = {}
            set_key(config, f"{dotted}.{k}", v)
        return
    node[leaf] = _coerce(dotted, value, node.get(leaf))


def valid_keys(config: dict[str, Any]) -> str:
    keys = []
    for k, v in config.items():
        if isinstance(v, dict):
            keys.append(f"{k}.*")
        else:
            keys.append(k)
    return ", ".join(sorted(keys))


def build(defaults: dict[str, Any], file: str | Path | None = None,
          sets: list[str] | None = None, **explicit: Any) -> dict[str, Any]:
    """Defaults, then the YAML file, then `--set` strings, then explicit keyword values."""
    config = copy.deepcopy(defaults)
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ValueError(f"config file {path} is not valid YAML: "
                             f"{str(err).splitlines()[0]}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"config file {path} must hold a mapping of keys to values")
        for k, v in loaded.items():
            set_key(config, k, v)
    for item in sets or []:
        if "=" not in item:
            raise ValueError(f"--set takes key=value; got {item!r}")
        key, text = item.split("=", 1)
        set_key(config, key.strip(), parse_scalar(text))
    for key, value in explicit.items():
        if value is not None:
            set_key(config, key, value)
    for key in ("iterations", "eval_every", "checkpoint_every", "K", "eval_adaptations"):
        if key in config and (not isinstance(config[key], int) or config[key] < 1):
            raise ValueError(f"config key {key!r} must be a positive integer; got {config[key]!r}")
    return config


def dump(config: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(config, sort_keys=False))


def load(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is this a run directory?")
    return yaml.safe_load(path.read_text())
