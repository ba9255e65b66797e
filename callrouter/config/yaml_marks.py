"""Safe YAML loading that remembers the line of every value.

PyYAML's node tree already knows where each node starts; keeping a map from
the value's path (`("teams", "iht", "members", 0, "mobile")`) to its line
lets every configuration problem be reported as file:line without a second
YAML library. Only the safe loader's constructors are used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from callrouter.routing.model import Source

PathKey = tuple[str | int, ...]

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


@dataclass
class MarkedDoc:
    """Plain Python data plus the source line of every path in it."""

    data: dict[str, Any] = field(default_factory=dict)
    marks: dict[PathKey, Source] = field(default_factory=dict)
    problems: list[tuple[Source, str, str]] = field(default_factory=list)

    def where(self, path: PathKey) -> Source:
        """The line of `path`, or of its nearest ancestor that has one."""
        for cut in range(len(path), -1, -1):
            hit = self.marks.get(path[:cut])
            if hit is not None:
                return hit
        return Source("<config>", 0)


class _Converter:
    def __init__(self, file: str, doc: MarkedDoc, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.doc = doc
        self.loader = loader

    def convert(self, node: yaml.Node, path: PathKey) -> Any:
        self.doc.marks[path] = Source(self.file, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(self._scalar(key_node))
                if key in out:
                    self.doc.problems.append(
                        (
                            Source(self.file, key_node.start_mark.line + 1),
                            f"key {key!r} appears twice",
                            "remove one of them; YAML would silently keep only the last",
                        )
                    )
                out[key] = self.convert(value_node, path + (key,))
                self.doc.marks[path + (key,)] = Source(self.file, key_node.start_mark.line + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        # YAML 1.1 reads 17:00 as the base-60 integer 1020; times stay text.
        if node.tag in (_INT_TAG, _FLOAT_TAG) and ":" in str(node.value):
            return str(node.value)
        return self.loader.construct_object(node, deep=True)


def load_file(path: Path, doc: MarkedDoc, display: str) -> dict[str, Any] | None:
    """Parse one YAML file into `doc`'s marks; returns its top-level mapping."""
    text = path.read_text(encoding="utf-8")
    loader = yaml.SafeLoader(text)
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
        return dict(_Converter(display, doc, loader).convert(node, ()))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        doc.problems.append(
            (
                Source(display, line),
                f"YAML syntax error: {exc.problem or exc}",
                'check indentation and quoting on this line (quote times like "08:30")',
            )
        )
        return None
    finally:
        loader.dispose()
