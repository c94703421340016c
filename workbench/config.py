"""Configuration primitives: typed sections, options, value coercion, the key tables.

Every configurable unit declares a `Section`, a frozen dataclass whose fields carry a type
(from the annotation), an optional range or set of allowed values, and a one-line
description (`option(...)`): each algorithm's `Algorithm.Config`, each adaptation operator's
`Options` (`adapt_options.*`) and each task family's `Params` (`task.*`). Values are parsed
and checked before anything is built or written: numbers in any notation Python accepts
(`1e-3` too, which YAML 1.1 leaves a string), NaN and infinities refused where they are not
meaningful, and an unknown key names the closest valid one.

This module is the library's: it imports nothing of the workbench. The run-level config
(`RunConfig`, `resolve` across every section, dump and load) is the application's, in
`workbench.app.runconfig`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Union

import yaml

__all__ = ["Section", "option", "parse_scalar", "unknown_key", "usable_cpus", "markdown_table",
           "with_defaults"]

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


def parse_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


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
