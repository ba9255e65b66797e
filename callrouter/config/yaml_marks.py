"""Safe, bounded YAML parsing that remembers the line of every value.

PyYAML's node tree already knows where each node starts; keeping a map from
the value's path (`("teams", "iht", "members", 0, "mobile")`) to its line
lets every configuration problem be reported as file:line without a second
YAML library. Only the safe loader's constructors are used (libyaml's when
installed: it parses the sample config ~20x faster than pure Python).

Admin-edited files are untrusted input for a process that answers calls, so
parsing is bounded: the caller refuses oversized files before reading them,
and here an alias that expands beyond `Limits.max_nodes` values (the
"billion laughs" bomb), an alias that contains itself, or nesting deeper
than `Limits.max_depth` stops the walk at once with file:line. PyYAML itself
never expands aliases (an alias is a second reference to one node), so the
walk below is the only place expansion can cost time or memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from callrouter.routing.model import Source

try:  # libyaml is optional in PyYAML; the pure-Python loader gives the same nodes
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader

PathKey = tuple[str | int, ...]
RawProblem = tuple[Source, str, str]

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


@dataclass(frozen=True)
class Limits:
    """What a config directory may cost to read; refused beyond, with file:line."""

    max_file_bytes: int = 1_000_000
    """Per file. The sample config's largest file is ~6 kB."""
    max_nodes: int = 200_000
    """Values per file after alias expansion (the sample has ~1,400)."""
    max_depth: int = 64


DEFAULT_LIMITS = Limits()


@dataclass
class MarkedDoc:
    """Plain Python data plus the source line of every path in it."""

    data: dict[str, Any] = field(default_factory=dict)
    marks: dict[PathKey, Source] = field(default_factory=dict)
    problems: list[RawProblem] = field(default_factory=list)
    homes: dict[str, Source] = field(default_factory=dict)
    """Where a missing section belongs (routing.yaml for `rules`), so its absence
    is blamed on the right file instead of on whichever file was read last."""
    broken: set[str] = field(default_factory=set)
    """Sections of files that could not be parsed: their names are unknown, so
    nothing is reported about them or about references to what they define."""

    def where(self, path: PathKey) -> Source:
        """The line of `path`, or of its nearest ancestor that has one."""
        for cut in range(len(path), 0, -1):
            hit = self.marks.get(path[:cut])
            if hit is not None:
                return hit
        if path and str(path[0]) in self.homes:
            return self.homes[str(path[0])]
        return Source("<config>", 0)


class _Refused(Exception):
    """A limit was hit while walking the node tree."""

    def __init__(self, line: int, message: str, fix: str) -> None:
        super().__init__(message)
        self.line, self.message, self.fix = line, message, fix


class _Sizer:
    """Counts the values a node tree expands to, before anything is expanded.

    Each distinct node is sized once (aliases share nodes), so a bomb of ten
    lines costs ten steps here instead of 9^9 in the conversion.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.sizes: dict[int, int] = {}
        self.open: set[int] = set()
        """Ids of the nodes on the current path: meeting one again means an alias
        refers to a value that contains it, which would expand forever."""

    def size(self, node: yaml.Node, depth: int = 0) -> int:
        known = self.sizes.get(id(node))
        if known is not None:
            return known
        line = node.start_mark.line + 1
        if id(node) in self.open:
            raise _Refused(
                line,
                "a YAML alias refers to the value that contains it, which never ends",
                "point the alias (*name) at a value defined outside this one",
            )
        if depth > self.limits.max_depth:
            raise _Refused(
                line,
                f"values are nested more than {self.limits.max_depth} levels deep",
                "check the indentation of this block",
            )
        total = 1
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            self.open.add(id(node))
            children = (
                [v for _, v in node.value] if isinstance(node, yaml.MappingNode) else node.value
            )
            for child in children:
                total += self.size(child, depth + 1)
                if total > self.limits.max_nodes:
                    raise _Refused(
                        line,
                        f"the file expands to more than {self.limits.max_nodes:,} values"
                        " (YAML aliases repeating other aliases)",
                        "write the values out instead of nesting aliases (*name)",
                    )
            self.open.discard(id(node))
        self.sizes[id(node)] = total
        return total


class _Converter:
    def __init__(self, file: str, doc: MarkedDoc, loader: Any) -> None:
        self.file = file
        self.doc = doc
        self.loader = loader

    def convert(self, node: yaml.Node, path: PathKey) -> Any:
        line = node.start_mark.line + 1
        self.doc.marks.setdefault(path, Source(self.file, line))
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(self._scalar(key_node))
                key_line = key_node.start_mark.line + 1
                if key in out:
                    self.doc.problems.append(
                        (
                            Source(self.file, key_line),
                            f"key {key!r} appears twice",
                            "remove one of them; YAML would silently keep only the last",
                        )
                    )
                self.doc.marks[path + (key,)] = Source(self.file, key_line)
                out[key] = self.convert(value_node, path + (key,))
                self.doc.marks[path + (key,)] = Source(self.file, key_line)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return "<complex key>"
        # YAML 1.1 reads 17:00 as the base-60 integer 1020; times stay text.
        if node.tag in (_INT_TAG, _FLOAT_TAG) and ":" in str(node.value):
            return str(node.value)
        try:
            value = self.loader.construct_object(node, deep=True)
        except ValueError:
            # An impossible date such as 2026-02-30 looks like a timestamp to YAML;
            # kept as text, the section's own check says what is wrong with it.
            return str(node.value)
        return value


def parse_text(
    text: str, display: str, doc: MarkedDoc, limits: Limits = DEFAULT_LIMITS
) -> dict[str, Any] | None:
    """Parse one file's text into `doc`'s marks; returns its top-level mapping.

    Returns None (with the problem recorded) when the file cannot be used;
    an empty mapping for an empty file, which the caller judges.
    """
    loader = SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}
        if not isinstance(node, yaml.MappingNode):
            doc.problems.append(
                (
                    Source(display, node.start_mark.line + 1),
                    "the file must be a mapping of sections (key: value)",
                    "start the file with a section name such as 'teams:'",
                )
            )
            return None
        _Sizer(limits).size(node)
        return dict(_Converter(display, doc, loader).convert(node, ()))
    except _Refused as exc:
        doc.problems.append((Source(display, exc.line), exc.message, exc.fix))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = str(exc.problem or exc)
        line = mark.line + 1 if mark else 0
        lines = text.splitlines()
        tab = 0 < line <= len(lines) and "\t" in lines[line - 1]
        doc.problems.append(
            (
                Source(display, line),
                f"YAML syntax error: {problem}",
                "this line has a tab: indent with spaces, never tabs"
                if tab
                else 'check indentation and quoting on this line (quote times like "08:30")',
            )
        )
    except (yaml.YAMLError, RecursionError) as exc:
        doc.problems.append(
            (
                Source(display, 0),
                f"the file cannot be read as YAML ({type(exc).__name__})",
                "check the file's structure; nesting this deep is never needed",
            )
        )
    finally:
        loader.dispose()
    return None
