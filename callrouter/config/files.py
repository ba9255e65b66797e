"""The config directory as a routing `Config`: the short way in for tools and tests.

`load` validates every section (routing, teams, callers, directory, ivr,
callbacks, records, triage) exactly as a generation does, without the
coverage proof (which needs a first day: `generation.load(..., today=...)`,
`LiveConfig` and `callrouter check` run it).
"""

from __future__ import annotations

from pathlib import Path

from callrouter.config import generation
from callrouter.config.builder import Problem
from callrouter.config.documents import read_texts
from callrouter.config.yaml_marks import DEFAULT_LIMITS, MarkedDoc
from callrouter.routing.model import Config


def read_documents(directory: Path) -> tuple[generation.Texts, MarkedDoc]:
    """The texts of every *.yaml file of `directory`, and a document of the problems
    found reading them; `build` parses them."""
    doc = MarkedDoc()
    return read_texts(Path(directory), DEFAULT_LIMITS, doc), doc


def build(documents: tuple[generation.Texts, MarkedDoc]) -> tuple[Config | None, list[Problem]]:
    """Validate and cross-reference every section; the config only when nothing is wrong."""
    verdict = generation.assemble(*documents, today=None)
    found = verdict.generation
    return (found.config if found else None), list(verdict.problems)


def load(directory: str | Path) -> Config:
    """Load and validate a config directory; raises ConfigError listing every problem."""
    return generation.load(Path(directory)).config
