"""What a caller's number tells us before the IVR asks anything.

Known referrers (the local huisartsenpost, police) skip the "who are you"
question; a landline's area code suggests the region; the block list is
checked here so the IVR and the CLI give the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from callrouter.routing import numbers
from callrouter.routing.model import Config, DirectoryEntry
from callrouter.routing.plan import CallerFacts


@dataclass(frozen=True)
class Recognised:
    """The caller's number, normalised, and what it implies."""

    number: str | None
    """E.164, or None when withheld or unparseable."""
    facts: CallerFacts
    known: DirectoryEntry | None
    blocked: bool


def recognise(raw: str | None, config: Config) -> Recognised:
    """Look a caller's `From` up in the directory, block list and area codes."""
    if not raw:
        return Recognised(None, CallerFacts(), None, False)
    try:
        number, parsed = numbers.normalise_parsed(raw)
    except numbers.NumberError:
        return Recognised(None, CallerFacts(), None, False)
    known = config.directory_entry(number)
    region = (known.region if known and known.region else None) or numbers.region_for(
        parsed, config.regions
    )
    facts = CallerFacts(caller_type=known.caller_type if known else None, region=region)
    return Recognised(number, facts, known, number in config.blocked)
