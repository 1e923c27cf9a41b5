"""A policy file's YAML read into plain values, with the line of each and limits for hostile files.

Errors name the file's line: every value's path (``("detectors", 2, "patterns", 0)``) is mapped to
the line it starts on, and the problems found while reading or checking the file are reported
together, earliest line first, as one :class:`~moderation.errors.PolicyError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from moderation.errors import PolicyError

__all__ = ["Lines", "Problem", "YamlSource", "line_of", "policy_error", "read_yaml"]

_MAX_PROBLEMS = 10
# A policy file is input too: bounds that no real policy comes near (the shipped one is 40 kB, 8 deep,
# 1,500 values) and that stop a hostile file's alias bomb or deep nesting from hanging or crashing a load.
_MAX_CHARACTERS = 1 << 20
_MAX_DEPTH = 32
_MAX_VALUES = 100_000

Problem = tuple[int | None, str]
"""A problem in a policy file: its line (when known) and what is wrong."""

Lines = dict[tuple[Any, ...], int]
"""The line each value starts on, by its path in the file (keys and list indexes)."""


@dataclass(frozen=True, slots=True)
class YamlSource:
    """A policy file read as YAML: its values, their lines, and what could not be read."""

    data: Any
    lines: Lines
    problems: list[Problem]
    unreadable: set[tuple[Any, ...]]
    """Paths whose value could not be read: the schema's complaint about them would repeat the problem."""


def read_yaml(source: str, name: str) -> YamlSource:
    """Read policy YAML held in a string (``name`` is used in errors) into plain values.

    Raises:
        PolicyError: the text is over the limits, not YAML, or empty.
    """
    if len(source) > _MAX_CHARACTERS:
        raise PolicyError(
            f"the file has {len(source):,} characters, over the {_MAX_CHARACTERS:,} a policy file may have",
            path=name,
        )
    try:
        _check_depth(source, name)
        node = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(f"not valid YAML: {problem}", path=name, line=line) from exc
    if node is None:
        raise PolicyError("the file is empty; start from policies/scls.yaml", path=name, line=1)
    lines: Lines = {}
    problems: list[Problem] = []
    unreadable: set[tuple[Any, ...]] = set()
    try:
        data = _to_python(node, (), lines, problems, unreadable, frozenset())
    except _TooManyValues as exc:
        raise PolicyError(
            f"the file expands to more than {_MAX_VALUES:,} values (aliases repeating aliases?); "
            "write the values out",
            path=name,
            line=exc.line,
        ) from None
    return YamlSource(data=data, lines=lines, problems=problems, unreadable=unreadable)


def line_of(location: tuple[Any, ...], lines: Lines) -> int | None:
    """The line of a value, or of the nearest enclosing one that has a line; ``None`` if none has."""
    for end in range(len(location), -1, -1):
        line = lines.get(tuple(location[:end]))
        if line is not None:
            return line
    return None


def policy_error(problems: list[Problem], name: str) -> PolicyError:
    """One error for every problem found (up to ten), each with its line."""
    # Earliest line first, like a compiler; `line` stays the first problem's.
    ordered = sorted(problems, key=lambda problem: (problem[0] is None, problem[0] or 0))
    shown = ordered[:_MAX_PROBLEMS]
    (first_line, first_message), rest = shown[0], shown[1:]
    message = first_message + "".join(
        f"\n{name}:{line}: {text}" if line is not None else f"\n{name}: {text}" for line, text in rest
    )
    if len(ordered) > _MAX_PROBLEMS:
        message += f"\n{name}: ... and {len(ordered) - _MAX_PROBLEMS} more problem(s)"
    return PolicyError(message, path=name, line=first_line)


class _TooManyValues(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def _check_depth(source: str, name: str) -> None:
    """Refuse nesting deeper than :data:`_MAX_DEPTH` before composing (which recurses per level)."""
    depth = 0
    for event in yaml.parse(source, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > _MAX_DEPTH:
                raise PolicyError(
                    f"lists and mappings are nested more than {_MAX_DEPTH} deep here; a policy needs few",
                    path=name,
                    line=event.start_mark.line + 1 if event.start_mark else None,
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _to_python(
    node: yaml.Node,
    path: tuple[Any, ...],
    lines: Lines,
    problems: list[Problem],
    unreadable: set[tuple[Any, ...]],
    ancestors: frozenset[int],
) -> Any:
    line = node.start_mark.line + 1
    lines[path] = line
    if len(lines) > _MAX_VALUES:  # aliases of aliases multiply: nine levels of nine are 387 million
        raise _TooManyValues(line)
    if id(node) in ancestors:
        problems.append((line, "an alias here refers to itself; write the value out instead"))
        unreadable.add(path)
        return None
    inner = ancestors | {id(node)}
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append((key_line, "a key must be a plain word, not a list or a mapping"))
                continue
            key = key_node.value
            if key in result:
                # YAML would quietly keep only the last one: a typo could silently drop a rule.
                first = lines.get((*path, key))
                problems.append(
                    (key_line, f"key {key!r} appears twice here (first on line {first}); keep one")
                )
                continue
            result[key] = _to_python(value_node, (*path, key), lines, problems, unreadable, inner)
            lines[(*path, key)] = key_line  # errors point at the key, not at a block below it
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(item, (*path, index), lines, problems, unreadable, inner)
            for index, item in enumerate(node.value)
        ]
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError) as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        problems.append((line, f"cannot read this value ({problem}); write it as plain text or a number"))
        unreadable.add(path)
        return None
    finally:
        loader.dispose()
