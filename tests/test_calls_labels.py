"""The words of reports and listings: both languages complete, config labels for values."""

from __future__ import annotations

import pytest

from callrouter.calls.labels import Labels, all_texts
from tests.helpers import ams, sample_generation


def labels(lang: str = "nl") -> Labels:
    generation = sample_generation()
    return Labels.of(generation.config, generation.triage, lang)


def test_dutch_and_english_have_the_same_words() -> None:
    texts = all_texts()

    assert set(texts["nl"]) == set(texts["en"])


def test_values_show_their_config_labels_and_unknown_in_the_language() -> None:
    nl, en = labels("nl"), labels("en")

    assert nl.value("region", "maas_en_waal") == "Maas en Waal"
    assert nl.value("caller_type", "resident") == "Inwoner (voor uzelf)"
    assert nl.value("outcome", "geen_uitkomst") == "Geen uitkomst gemeld (wel gesproken)"
    assert (nl.value("region", ""), en.value("region", "")) == ("onbekend", "unknown")


def test_a_period_reads_as_first_and_last_day() -> None:
    assert labels("nl").period(ams(2026, 10, 1), ams(2026, 11, 1)) == "1 okt 2026 t/m 31 okt 2026"
    assert labels("en").period(ams(2026, 10, 1), ams(2026, 11, 1)) == "1 Oct 2026 to 31 Oct 2026"


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="use one of nl, en"):
        labels("de")
