"""What values a config key admits: numeric ranges, ordered pairs, run names, patterns, registered names.

A rule is called as ``rule.problem(value)`` and returns None when the value is
allowed, else the problem in words ("must be >= 1, got 0"); ``str(rule)`` is the
allowed set as the README's key table shows it. The config classes
(``lateral/config.py``) list one rule per key in their ``RULES`` table and
check it on construction. Values of another type pass a numeric rule untouched
(``None`` for "unset", a word such as ``auto``): types are the converter's job.
"""

import dataclasses
import importlib
import math
import re
from pathlib import PurePosixPath, PureWindowsPath


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclasses.dataclass(frozen=True)
class Range:
    """A finite number in an interval; either end may be open or absent."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def __str__(self):
        if self.high == math.inf:
            return f"{'>' if self.low_open else '>='} {_number(self.low)}"
        if self.low == -math.inf:
            return f"{'<' if self.high_open else '<='} {_number(self.high)}"
        return (f"{'(' if self.low_open else '['}{_number(self.low)}, "
                f"{_number(self.high)}{')' if self.high_open else ']'}")

    def admits(self, value):
        above_low = self.low < value if self.low_open else self.low <= value
        below_high = value < self.high if self.high_open else value <= self.high
        return math.isfinite(value) and above_low and below_high

    def problem(self, value):
        if not _is_number(value) or self.admits(value):
            return None
        where = str(self) if self.high == math.inf or self.low == -math.inf else f"in {self}"
        return f"must be {where}, got {value!r}"


def at_least(low):
    return Range(low)


def above(low):
    return Range(low, low_open=True)


def between(low, high, high_open=False):
    return Range(low, high, high_open=high_open)


FRACTION = between(0, 1)  # shares and probabilities


@dataclasses.dataclass(frozen=True)
class Each:
    """Every item of a list obeys ``rule``; with ``increasing``, a [low, high] pair must have low <= high
    (low < high when ``strictly``)."""

    rule: object
    increasing: bool = False
    strictly: bool = False

    def __str__(self):
        if not self.increasing:
            return f"each {self.rule}"
        return f"[low, high], each {self.rule}, low {'<' if self.strictly else '<='} high"

    def problem(self, value):
        if value is None:
            return None
        for index, item in enumerate(value):
            problem = self.rule.problem(item)
            if problem:
                return f"item {index} {problem}"
        if self.increasing and len(value) == 2:
            low, high = value
            if not (low < high if self.strictly else low <= high):
                return f"must be [low, high] with low {'<' if self.strictly else '<='} high, got {list(value)}"
        return None


@dataclasses.dataclass(frozen=True)
class NonEmpty:
    """A non-empty string (None, for an optional key, is allowed)."""

    def __str__(self):
        return "not empty"

    def problem(self, value):
        if isinstance(value, str) and not value.strip():
            return "must not be empty"
        return None


@dataclasses.dataclass(frozen=True)
class RunName:
    """A run's folder below the checkpoint root: a relative path that does not climb out of it, each folder
    name short enough for every file system (255 bytes) with room for the run's own suffixes."""

    longest: int = 200  # bytes of one folder name (UTF-8)

    def __str__(self):
        return f"a relative folder name, no '..', each part at most {self.longest} bytes"

    def problem(self, value):
        if value is None:
            return None
        if not value.strip():
            return "must not be empty"
        parts = PurePosixPath(value.replace("\\", "/")).parts
        if PureWindowsPath(value).is_absolute() or value.startswith(("/", "\\")) or ".." in parts:
            return f"must be a folder name inside the checkpoint root (relative, no '..'), got {value!r}"
        longest = max(len(part.encode("utf-8")) for part in parts)
        if longest > self.longest:
            return f"each folder name must be at most {self.longest} bytes, got one of {longest} bytes"
        return None


@dataclasses.dataclass(frozen=True)
class Pattern:
    """A regular expression with the named group ``group``."""

    group: str

    def __str__(self):
        return f"a regular expression with a group named {self.group}"

    def problem(self, value):
        if value is None:
            return None
        try:
            compiled = re.compile(value)
        except re.error as error:
            return f"{value!r} is not a regular expression: {error}"
        if self.group not in compiled.groupindex:
            return f"{value!r} needs a group named {self.group}: (?P<{self.group}>...)"
        return None


@dataclasses.dataclass(frozen=True)
class Registered:
    """A name in a registry (or the keys of a table), ``"module:attribute"``, imported when first checked
    so that reading a config does not load TensorFlow before it is needed."""

    where: str

    def known(self):
        module, attribute = self.where.split(":")
        names = getattr(importlib.import_module(module), attribute)
        return sorted(names.names() if hasattr(names, "names") else names)

    def __str__(self):
        return f"a name in {self.where}"

    def problem(self, value):
        known = self.known()
        if value is None or value in known:
            return None
        return f"must be one of {', '.join(known)}, got {value!r}"


@dataclasses.dataclass(frozen=True)
class Relation:
    """A rule tying several keys: ``holds(*values)`` must be true. The first key is the one blamed;
    ``says`` finishes the sentence "'<first key>' ..." (e.g. "must not exceed epochs")."""

    keys: tuple
    holds: object
    says: str

    def problem(self, values, names):
        if any(value is None for value in values) or self.holds(*values):
            return None
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(names, values))
        return f"{self.says} (got {shown})"
