"""Typed run configuration: one frozen dataclass per configurable unit, resolved at once.

Every configurable unit declares a `Section`, a frozen dataclass whose fields carry a type
(from the annotation), an optional range or set of allowed values, and a one-line
description (`option(...)`):
- `RunConfig`: the keys every run has (iterations, seed, K, policy, backend, ...);
- each algorithm's `Algorithm.Config` (ES-MAML's sigma, beta, ...; a PG baseline's keys);
- each adaptation operator's `Options` (`adapt_options.*`) and each task family's `Params`
  (`task.*`), declared by the algorithm's `nested_sections`.

`resolve` reads the defaults, then a YAML file, then `--set key=value` strings, then explicit
values, and returns the fully resolved config as a nested dict: every default filled in,
including the task's parameters, the horizon and the policy architecture. Values are parsed
and checked before anything is built or written: numbers in any notation Python accepts
(`1e-3` too, which YAML 1.1 leaves a string), NaN and infinities refused where they are not
meaningful, and an unknown key names the closest valid one. The resolved dict is what
`config.yaml` in a run directory holds and what algorithms read; its values already have
their declared types.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Union

import yaml

__all__ = ["Section", "option", "RunConfig", "resolve", "parse_scalar", "dump", "load",
           "markdown_table"]

Choices = Union[tuple, Callable[[], Iterable[str]], None]


def option(default: Any, doc: str, *, choices: Choices = None, low: float | None = None,
           high: float | None = None, low_open: bool = False, high_open: bool = False,
           finite: bool = True) -> Any:
    """A config field: its default, a one-line description and what values are allowed.

    `choices`: the allowed values (or a function returning them, for registries that load
    lazily); `low` / `high`: bounds, inclusive unless `low_open` / `high_open`; `finite`:
    whether NaN and infinities are refused (floats only). A field whose annotation allows
    None treats None as "the default described in `doc`".
    """
    meta = {"doc": doc, "choices": choices, "low": low, "high": high, "low_open": low_open,
            "high_open": high_open, "finite": finite}
    if isinstance(default, (dict, list)):
        raise TypeError("config defaults must be scalars")
    return dataclasses.field(default=default, metadata=meta)


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(scalar type, whether None is allowed) of an annotation like `float | None`."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(annotation))
    return annotation, False


def _describe_type(kind: type) -> str:
    return {bool: "true or false", int: "an integer", float: "a number",
            str: "a string"}[kind]


def _coerce(key: str, value: Any, kind: type) -> Any:
    bad = ValueError(f"config key {key!r} must be {_describe_type(kind)}; got {value!r}")
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad
    if isinstance(value, bool):
        raise bad
    if kind is int:
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise bad from None
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        raise bad
    if kind is float:
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise bad from None
        raise bad
    if kind is str:
        if isinstance(value, str):
            return value
        raise bad
    raise TypeError(f"unsupported config type {kind!r} for {key!r}")


def _check_range(key: str, value: Any, meta: dict[str, Any]) -> None:
    if isinstance(value, float) and meta["finite"] and not math.isfinite(value):
        raise ValueError(f"config key {key!r} must be a finite number; got {value!r}")
    choices = meta["choices"]
    if choices is not None:
        allowed = tuple(choices() if callable(choices) else choices)
        if value not in allowed:
            raise ValueError(f"config key {key!r} must be one of {', '.join(map(str, allowed))}"
                             f"; got {value!r}")
    low, high = meta["low"], meta["high"]
    if low is not None and (value < low or (meta["low_open"] and value == low)):
        raise ValueError(f"config key {key!r} must be {'>' if meta['low_open'] else '>='} "
                         f"{low}; got {value!r}")
    if high is not None and (value > high or (meta["high_open"] and value == high)):
        raise ValueError(f"config key {key!r} must be {'<' if meta['high_open'] else '<='} "
                         f"{high}; got {value!r}")


@dataclass(frozen=True)
class Section:
    """A typed group of config keys; fields are declared with `option(...)`.

    Construction coerces every value to its field's type and checks its range, so a
    `Section` instance only ever holds valid values. `prefix` names the section's place in
    the config (`task.`, `adapt_options.`) in error messages.
    """

    prefix: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            key = self.prefix + f.name
            kind, nullable = _base_type(hints[f.name])
            value = getattr(self, f.name)
            if value is None:
                if not nullable:
                    raise ValueError(f"config key {key!r} needs a value "
                                     f"({_describe_type(kind)})")
                continue
            value = _coerce(key, value, kind)
            _check_range(key, value, f.metadata)
            object.__setattr__(self, f.name, value)
        self.check()

    def check(self) -> None:
        """Checks that involve several fields; raise ValueError naming them."""

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def build(cls, values: dict[str, Any]) -> "Section":
        """The section from a mapping of (some of) its keys; unknown keys are an error."""
        unknown_key(values, cls.keys(), cls.prefix)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def unknown_key(values: dict[str, Any], valid: list[str], prefix: str = "") -> None:
    for key in values:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
            hint = f"; did you mean {prefix + close[0]!r}?" if close else ""
            raise ValueError(f"unknown config key {prefix + key!r}{hint} (valid: "
                             f"{', '.join(prefix + k for k in sorted(valid))})")


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask (taskset, cgroups' cpusets), which
    can be fewer than `os.cpu_count()`, the machine's total."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no affinity API on this platform
        return os.cpu_count() or 1


def _backends() -> tuple[str, ...]:
    from workbench.backends import BACKENDS
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


def parse_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


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
    from workbench.tasks import family_class

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


def dump(config: dict[str, Any], path: str | Path) -> None:
    """Write `config` to `path` aside first, then rename: a process killed while writing
    never leaves a half-written config.yaml."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    os.replace(tmp, path)


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


def markdown_table(section: type[Section], prefix: str = "") -> str:
    """A markdown table of a section's keys: key, type, default, allowed values, meaning."""
    hints = typing.get_type_hints(section)
    rows = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for f in dataclasses.fields(section):
        kind, nullable = _base_type(hints[f.name])
        m = f.metadata
        allowed = []
        if m["choices"] is not None:
            allowed.append(", ".join(map(str, m["choices"]() if callable(m["choices"])
                                         else m["choices"])))
        if m["low"] is not None:
            allowed.append(f"{'>' if m['low_open'] else '>='} {m['low']}")
        if m["high"] is not None:
            allowed.append(f"{'<' if m['high_open'] else '<='} {m['high']}")
        if kind is float and m["finite"]:
            allowed.append("finite")
        default = "(see meaning)" if f.default is None else f"`{f.default}`"
        rows.append(f"| `{prefix}{f.name}` | {kind.__name__}{' or null' if nullable else ''} | "
                    f"{default} | {'; '.join(allowed) or '-'} | {m['doc']} |")
    return "\n".join(rows) + "\n"


def with_defaults(section: type[Section], name: str | None = None, **defaults: Any) -> type:
    """A subclass of `section` whose listed fields have other defaults (same checks, docs)."""
    unknown_key(defaults, section.keys(), section.prefix)
    hints = typing.get_type_hints(section)
    fields = [(f.name, hints[f.name], dataclasses.field(default=defaults[f.name],
                                                         metadata=f.metadata))
              for f in dataclasses.fields(section) if f.name in defaults]
    return dataclasses.make_dataclass(name or section.__name__, fields, bases=(section,),
                                      frozen=True)


def reference_markdown() -> str:
    """docs/config.md: every section's key table, generated from the dataclasses (a test
    compares the file with this output, so the docs cannot drift)."""
    from workbench.algorithm import algorithm_class, algorithms
    from workbench.tasks import available, family_class

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
