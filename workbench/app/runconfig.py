"""Run-level configuration: the keys every run has, and one resolved config per run.

`RunConfig` holds the keys every run has (iterations, seed, K, policy, backend, ...); an
algorithm adds its `Config` and the nested sections it declares (`adapt_options.*`,
`task.*`). `resolve` reads the defaults, then a YAML file, then `--set key=value` strings,
then explicit values, and returns the fully resolved config as a nested dict: every default
filled in, including the task's parameters, the horizon and the policy architecture; it
raises one line on any unknown key or invalid value. The resolved dict is what `config.yaml`
in a run directory holds (`dump`, `load`) and what algorithms read; its values already have
their declared types. `reference_markdown` is docs/config.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from workbench.algorithm import algorithm_class, algorithms
from workbench.app.errors import write_text
from workbench.backends import BACKENDS
from workbench.config import Section, markdown_table, option, parse_scalar, unknown_key
from workbench.tasks import available, family_class

__all__ = ["RunConfig", "resolve", "overrides_from", "dump", "load", "reference_markdown"]


def _backends() -> tuple[str, ...]:
    return tuple(BACKENDS)


@dataclass(frozen=True)
class RunConfig(Section):
    """Keys every run has, whatever the algorithm."""

    iterations: int = option(100, "training iterations", low=1)
    seed: int = option(0, "seed of every random stream of the run", low=0)
    horizon: int | None = option(None, "rollout length (default: the task's)", low=1)
    K: int = option(20, "adaptation queries (rollouts) per task", low=1)
    policy: str | None = option(None, "L (linear), H (one hidden layer) or HH (two); default: "
                                "the task's (H for RL tasks)", choices=("L", "H", "HH"))
    width: int | None = option(None, "hidden layer width (default: the task's, 32)", low=1)
    activation: str | None = option(None, "hidden activation (default: the task's, relu)",
                                    choices=("relu", "tanh"))
    init: str | None = option(None, "initialisation: normal (per-layer He), reference "
                              "(authors' release), zeros, maml (MAML's truncated normal, std "
                              "0.01) (default: the task's; normal, sine: maml)",
                              choices=("normal", "reference", "zeros", "maml"))
    eval_every: int = option(10, "iterations between test evaluations", low=1)
    eval_adaptations: int = option(200, "test adaptations per evaluation", low=1)
    checkpoint_every: int = option(50, "iterations between checkpoints", low=1)
    backend: str = option("local", "where rollouts run (docs/distributed.md)",
                          choices=_backends)
    ray_address: str | None = option(None, "Ray cluster: auto, HOST:PORT or ray://HOST:PORT "
                                     "(default: a running local cluster, else a new one)")
    ray_actors: int = option(0, "Ray actors (0: one per ray_actor_cpus CPUs)", low=0)
    ray_actor_cpus: int = option(1, "CPUs (and physics threads) per Ray actor", low=1)
    budget_rollouts: int = option(0, "stop once this many training rollouts are spent "
                                  "(0: no budget)", low=0)
    threads: int | None = option(None, "torch intra-op threads (default: 1; MuJoCo physics "
                                 "threads are separate)", low=1)


def _nest(overrides: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = overrides
    for part in parts[:-1]:
        if part not in node or not isinstance(node[part], dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def _read_file(file: str | Path) -> dict[str, Any]:
    path = Path(file)
    if path.is_dir():
        raise ValueError(f"config file {path} is a directory; --config takes a YAML file")
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist or is not a file")
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"config file {path} is not valid YAML text: {first}") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"config file {path} must hold a mapping of keys to values")
    return loaded


def overrides_from(file: str | Path | None = None, sets: Iterable[str] = (),
                   explicit: dict[str, Any] | None = None) -> dict[str, Any]:
    """The file's keys, then `--set` strings, then explicit values, as one nested mapping."""
    out: dict[str, Any] = {}
    if file is not None:
        for key, value in _read_file(file).items():
            _merge(out, str(key), value)
    for item in sets:
        if "=" not in item:
            raise ValueError(f"--set takes key=value; got {item!r}")
        key, text = item.split("=", 1)
        _merge(out, key.strip(), parse_scalar(text))
    for key, value in (explicit or {}).items():
        if value is not None:
            _merge(out, key, value)
    return out


def _merge(out: dict[str, Any], dotted: str, value: Any) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _merge(out, f"{dotted}.{k}", v)
    else:
        _nest(out, dotted, value)


def resolve(algo_cls: Any, file: str | Path | None = None, sets: Iterable[str] = (),
            **explicit: Any) -> dict[str, Any]:
    """The fully resolved config of a run of `algo_cls` (an `Algorithm` subclass).

    `explicit` may hold `task="name"` and any top-level key (e.g. `seed`, `backend`); None
    values are ignored. Raises ValueError (one line) on any unknown key or invalid value.
    """
    task = explicit.pop("task", None)
    raw = overrides_from(file, sets, explicit)
    if task is not None:
        _nest(raw, "task.name", task)
    flat_sections = (RunConfig, algo_cls.Config)
    sections = ("task", *algo_cls.section_keys)  # keys that hold a nested section
    valid = [k for s in flat_sections for k in s.keys()] + ["algo", *sections]
    unknown_key(raw, valid)
    algo = raw.pop("algo", algo_cls.name)
    if algo != algo_cls.name:
        raise ValueError(f"config key 'algo' is {algo!r}, but this run is {algo_cls.name!r}")
    nested = {k: raw.pop(k) for k in sections if k in raw}
    for key, value in nested.items():
        if not isinstance(value, dict):
            raise ValueError(f"config key {key!r} is a section; set its keys as {key}.KEY")
    run = RunConfig.build({k: v for k, v in raw.items() if k in RunConfig.keys()})
    own = algo_cls.Config.build({k: v for k, v in raw.items() if k in algo_cls.Config.keys()})

    task_raw = dict(nested.get("task", {}))
    name = task_raw.pop("name", None)
    if not name:
        raise ValueError("no task given: use --task NAME")
    family = family_class(name)
    params = family.Params.build(task_raw)

    config: dict[str, Any] = {"algo": algo_cls.name, **run.to_dict(), **own.to_dict()}
    config["task"] = {"name": name, **params.to_dict()}
    for key, section in algo_cls.nested_sections(config).items():
        config[key] = section.build(dict(nested.get(key, {}))).to_dict()
    # Defaults that depend on the task: the horizon and the policy architecture.
    if config["horizon"] is None:
        config["horizon"] = family.default_horizon
    own_policy = family.POLICY_DEFAULTS
    for key, fallback in (("policy", "H"), ("width", 32), ("activation", "relu"),
                          ("init", "normal")):
        if config[key] is None:
            config[key] = own_policy.get(key, fallback)
    return config


def rollout_budget(config: dict[str, Any]) -> int:
    """The run's rollout budget (`budget_rollouts`), 0 when it trains to `iterations`: the
    one place that reads the key."""
    return int(config.get("budget_rollouts") or 0)


def dump(config: dict[str, Any], path: str | Path) -> None:
    """Write `config` to `path` aside first, then rename: a process killed while writing
    never leaves a half-written config.yaml."""
    write_text(path, yaml.safe_dump(config, sort_keys=False))


def load(path: str | Path) -> dict[str, Any]:
    """A run directory's config.yaml as a mapping (resolve it again to check it)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is this a run directory?")
    try:
        loaded = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{path} is not a valid config file: {first}") from None
    if not isinstance(loaded, dict) or "algo" not in loaded or "task" not in loaded:
        raise ValueError(f"{path} is empty or not a run's config (no algo and task keys); "
                         f"the run cannot be resumed from it")
    return loaded


def reference_markdown() -> str:
    """docs/config.md: every section's key table, generated from the dataclasses (a test
    compares the file with this output, so the docs cannot drift)."""
    out = ["# Config keys", "",
           "Generated by `workbench config --docs` from the typed sections in the code; "
           "tests/test_config.py fails when this file and the code disagree. Set keys with "
           "`--set KEY=VALUE` (repeatable) or a YAML file (`--config FILE`); "
           "`workbench config --algo A --task T [--set ...]` prints the resolved config.", "",
           "## Every run", "", markdown_table(RunConfig)]
    for name in sorted(algorithms()):
        for title, section in algorithm_class(name).documented_sections().items():
            prefix = "adapt_options." if "adaptation=" in title else ""
            out += [f"## {title}", "", markdown_table(section, prefix)]
    for name in sorted(available()):
        out += [f"## task {name}", "", markdown_table(family_class(name).Params, "task.")]
    return "\n".join(out)
