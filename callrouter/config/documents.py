"""A config directory's YAML files -> one marked document of sections.

Each file is refused before it is read when it is larger than the limit,
and parsed with the bounds of `yaml_marks`. The texts read are kept (they
are what a generation is: its id is their hash, and the last good ones are
stored so another process can start on them). A file that cannot be parsed
marks the sections it appears to define as broken, so the builder reports
its syntax error and not a cascade of "unknown team" for every name it held.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from callrouter.config.sections.features import FEATURE_SECTIONS
from callrouter.config.sections.routing import ROUTING_SECTIONS
from callrouter.config.yaml_marks import Limits, MarkedDoc, parse_text
from callrouter.routing.model import Source

SECTIONS = ROUTING_SECTIONS | FEATURE_SECTIONS

HOME_FILES = {
    "callers.yaml": ("caller_types", "age_groups", "regions"),
    "directory.yaml": ("directory", "blocked"),
    "teams.yaml": ("teams",),
    "ivr.yaml": ("ivr",),
    "callbacks.yaml": ("callbacks",),
    "records.yaml": ("records",),
    "triage.yaml": ("triage",),
    "console.yaml": ("console",),
}
"""Where each section lives in the sample layout; the rest is routing.yaml's."""

_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.MULTILINE)


def home_of(section: str) -> str:
    return next((f for f, held in HOME_FILES.items() if section in held), "routing.yaml")


@dataclass(frozen=True)
class Texts:
    """The YAML texts of one config, by file name, and where they were read."""

    directory: str
    files: Mapping[str, str]


def read_texts(directory: Path, limits: Limits, doc: MarkedDoc) -> Texts:
    """Every *.yaml / *.yml file's text; an oversized or unreadable file is a problem."""
    paths = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not paths:
        doc.problems.append(
            (
                Source(str(directory), 0),
                "no *.yaml files in the config directory",
                "point at the config/ directory of the project",
            )
        )
    files: dict[str, str] = {}
    for path in paths:
        display = str(path)
        try:
            size = path.stat().st_size
            if size > limits.max_file_bytes:
                doc.problems.append(
                    (
                        Source(display, 1),
                        f"the file is {size:,} bytes, over the limit of"
                        f" {limits.max_file_bytes:,} bytes for a config file",
                        "a config file is a few kB: check that the right file was saved here",
                    )
                )
                doc.broken.update(_sections_of(path.name, ""))
                continue
            files[path.name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            doc.problems.append(
                (Source(display, 0), f"the file cannot be read ({exc})", "save it as UTF-8 text")
            )
            doc.broken.update(_sections_of(path.name, ""))
    return Texts(str(directory), files)


def parse_texts(texts: Texts, limits: Limits, doc: MarkedDoc) -> MarkedDoc:
    """Parse every text into `doc`: one mapping of sections with line marks."""
    for section in SECTIONS:
        doc.homes[section] = Source(str(Path(texts.directory) / home_of(section)), 1)
    for name, text in sorted(texts.files.items()):
        display = str(Path(texts.directory) / name)
        if len(text.encode("utf-8")) > limits.max_file_bytes:
            doc.problems.append(
                (Source(display, 1), "the file is over the size limit", "shorten it")
            )
            continue
        data = parse_text(text, display, doc, limits)
        if data is None:
            doc.broken.update(_sections_of(name, text))
            continue
        if not data:
            doc.problems.append(
                (
                    Source(display, 1),
                    "the file is empty",
                    f"write its section(s) ({', '.join(sorted(_sections_of(name, '')))}) as in the"
                    " sample config, or delete the file",
                )
            )
            doc.broken.update(_sections_of(name, ""))
            continue
        for key, value in data.items():
            if key in doc.data:
                doc.problems.append(
                    (
                        doc.where((key,)),
                        f"section {key!r} is defined twice (also in {display})",
                        "keep each section in one file",
                    )
                )
            elif key not in SECTIONS:
                close = difflib.get_close_matches(key, SECTIONS, n=1)
                doc.problems.append(
                    (
                        doc.where((key,)),
                        f"unknown section {key!r}",
                        f"did you mean {close[0]!r}?" if close else "remove it",
                    )
                )
            else:
                doc.data[key] = value
    return doc


def _sections_of(name: str, text: str) -> set[str]:
    """The sections a file defines, read without a YAML parser (the file has none
    that parses): its top-level keys, else what the sample layout keeps there."""
    found = {key for key in _TOP_KEY.findall(text) if key in SECTIONS}
    if found:
        return found
    if name in HOME_FILES:
        return set(HOME_FILES[name])
    return {s for s in SECTIONS if home_of(s) == name}
