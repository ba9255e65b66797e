"""One generation of the config: every section typed and validated, built once.

A `Generation` is what a process routes, answers and notifies with: the
routing model, the IVR menus, the callback, records and triage policies,
all from one consistent set of files. It is built in one place
(`assemble`), by `check`, `serve`, the web and the worker alike, so a config
`check` accepts is exactly one every process can run, and a refused one is
refused everywhere with the same file:line problems.

A generation that passes every section check must also pass the coverage
proof (`routing.coverage.prove`): every caller reaches a person or a callback
at every moment of the coming year. Otherwise it is refused like a typo.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from callrouter.callbacks.policy import CallbackPolicy
from callrouter.calls.policy import RecordsPolicy
from callrouter.calls.triage import TriageCodes
from callrouter.config.builder import Builder, Problem
from callrouter.config.documents import Texts as Texts
from callrouter.config.documents import parse_texts, read_texts
from callrouter.config.sections.features import build_features
from callrouter.config.sections.routing import ROUTING_SECTIONS, build_config
from callrouter.config.yaml_marks import DEFAULT_LIMITS, Limits, MarkedDoc
from callrouter.console.policy import ConsolePolicy
from callrouter.errors import ConfigError
from callrouter.routing.coverage import CoverageReport, prove
from callrouter.routing.model import Config, Source
from ivr.estimate import estimator
from ivr.menus import Menus
from ivr.route_context import QuestionsMemo

logger = logging.getLogger(__name__)

PROOF_DAYS = 366
"""How far ahead the coverage proof looks, here and in `callrouter check`."""


@dataclass(frozen=True)
class Generation:
    """One consistent, validated config: what every request and job reads."""

    id: str
    """A hash of the YAML texts: the same files give the same id in every process."""
    config: Config
    menus: Menus
    callbacks: CallbackPolicy
    records: RecordsPolicy
    triage: TriageCodes
    console: ConsolePolicy
    fallback_number: str
    """The 24/7 line dialled whenever anything fails."""
    texts: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    """The YAML it was built from, by file name (stored as the last good config)."""
    warnings: tuple[Problem, ...] = ()
    questions_memo: QuestionsMemo = field(default_factory=dict, compare=False, repr=False)
    """Which questions matter, per situation, for this generation of the config."""

    @classmethod
    def from_directory(cls, directory: Path, today: dt.date | None = None) -> Generation:
        """The generation of `directory`; raises ConfigError listing every problem."""
        return load(directory, today=today)


Loaded = Generation
"""The old name, kept while call sites move to `Generation`."""


@dataclass(frozen=True)
class Verdict:
    """What building a generation found: the generation only when nothing is wrong."""

    generation: Generation | None
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    coverage: CoverageReport | None
    """None when the proof could not run (the routing sections have problems) or
    was not asked for."""
    files_id: str | None = None
    """`generation_id` of the texts judged (None when they could not be read):
    processes compare it to tell whether they judged the same files."""

    @property
    def refusals(self) -> list[str]:
        """Every reason the generation is refused, one line each."""
        out = [str(p) for p in self.problems]
        if self.coverage is not None:
            out += [
                f"coverage gap: {gap}"
                for gap in (*self.coverage.gaps, *self.coverage.rota_gaps, *self.coverage.path_gaps)
            ]
            out += [
                f"{rule.source}: rule {rule.name!r} never matches in the coming"
                f" {self.coverage.days} days. Fix: remove it or move it above the rules"
                " that take its calls"
                for rule in self.coverage.unused_rules
            ]
        return out


def generation_id(texts: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for name, text in sorted(texts.items()):
        digest.update(f"{len(name)}:{name}{len(text)}:".encode())
        digest.update(text.encode("utf-8"))
    return digest.hexdigest()[:12]


def assemble(
    texts: Texts,
    doc: MarkedDoc,
    *,
    today: dt.date | None,
    days: int = PROOF_DAYS,
    limits: Limits = DEFAULT_LIMITS,
) -> Verdict:
    """Parse, build and (with `today`) prove one generation; no file or clock access.

    `doc` may already hold problems of reading the files. The coverage proof
    runs whenever the routing sections are sound, even when a feature section
    (ivr, callbacks, ...) has problems, so one `check` run reports both.
    """
    parse_texts(texts, limits, doc)
    b = Builder(doc)
    config = build_config(b)
    routing_sound = not b.problems and not doc.broken & ROUTING_SECTIONS
    features = build_features(b, config)
    problems = [Problem(*p) for p in doc.problems] + b.problems
    walk = estimator(config, features.menus) if features.menus is not None else (None, ())
    coverage = prove(config, today, days, *walk) if today is not None and routing_sound else None
    fallback = config.line(config.fallback_line)
    failed = problems or (coverage is not None and not coverage.ok)
    files_id = generation_id(texts.files)
    if failed or features.menus is None or fallback is None:
        return Verdict(None, tuple(problems), tuple(b.warnings), coverage, files_id)
    generation = Generation(
        id=files_id,
        config=config,
        menus=features.menus,
        callbacks=features.callbacks,
        records=features.records,
        triage=features.triage,
        console=features.console,
        fallback_number=fallback.number,
        texts=dict(texts.files),
        warnings=tuple(b.warnings),
    )
    return Verdict(generation, (), tuple(b.warnings), coverage, files_id)


def judge(
    directory: Path,
    *,
    today: dt.date | None,
    days: int = PROOF_DAYS,
    limits: Limits = DEFAULT_LIMITS,
) -> Verdict:
    """The verdict on the files in `directory` (what `check` prints); never raises:
    a config that trips a bug in a parser is refused, with the error, not a traceback."""
    doc = MarkedDoc()
    try:
        texts = read_texts(directory, limits, doc)
        return assemble(texts, doc, today=today, days=days, limits=limits)
    except Exception as exc:  # noqa: BLE001 -- a refusal with a reason beats a dead process
        logger.exception("config in %s could not be built", directory)
        problem = Problem(
            Source(str(directory), 0),
            f"the configuration could not be read ({type(exc).__name__}: {exc})",
            "this is a bug in the call router: report it with the config files",
        )
        return Verdict(None, (problem,), (), None)


def load(
    directory: Path, *, today: dt.date | None = None, limits: Limits = DEFAULT_LIMITS
) -> Generation:
    """The generation of `directory`, proven from `today` when given; raises ConfigError."""
    verdict = judge(Path(directory), today=today, limits=limits)
    if verdict.generation is None:
        raise ConfigError(verdict.refusals)
    return verdict.generation
