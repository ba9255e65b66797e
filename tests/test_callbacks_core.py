"""The callback decisions without I/O: lifecycle table, policy, ladder, texts, replies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from callrouter.callbacks.callback_number import Refusal, check_callback_number
from callrouter.callbacks.lifecycle import (
    TERMINAL,
    TIMED,
    TRANSITIONS,
    Event,
    InvalidTransition,
    State,
    advance,
    after_failed_attempt,
    sources,
)
from callrouter.callbacks.messages import claim_reply, offer_sms, spoken_digits, spoken_national
from callrouter.callbacks.policy import CallbackPolicy, Target
from callrouter.callbacks.replies import Reply, ReplyKind, parse_reply
from callrouter.callbacks.requests import Job, Request, Route, follow_ups, new_request
from callrouter.callbacks.staff import recipients
from callrouter.callbacks.texts import Say, Staff
from callrouter.config.builder import parse_duration
from callrouter.config.files import load
from callrouter.errors import ConfigError
from callrouter.routing.plan import CallerFacts, route
from tests.callbacks_kit import CONFIG_DIR, make_config_dir
from tests.helpers import ams, sample_config, sample_generation

# --------------------------------------------------------------------------- lifecycle


def test_every_state_is_reachable_from_requested() -> None:
    seen = {State.REQUESTED}
    frontier = [State.REQUESTED]
    while frontier:
        state = frontier.pop()
        for (source, _event), target in TRANSITIONS.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(State)


def test_no_request_can_get_stuck_every_open_state_has_a_timer_and_a_way_out() -> None:
    for state in set(State) - TERMINAL:
        assert (state, TIMED[state]) in TRANSITIONS, state
        # and from every non-terminal state some path ends in a terminal state
        reach = {state}
        frontier = [state]
        while frontier:
            s = frontier.pop()
            for (source, _e), target in TRANSITIONS.items():
                if source is s and target not in reach:
                    reach.add(target)
                    frontier.append(target)
        assert reach & TERMINAL, state


def test_terminal_states_have_no_way_out() -> None:
    assert not [key for key in TRANSITIONS if key[0] in TERMINAL]


def test_a_live_call_cannot_be_cancelled_and_a_claim_needs_an_open_request() -> None:
    with pytest.raises(InvalidTransition):
        advance(State.CALLING, Event.CANCEL)
    with pytest.raises(InvalidTransition):
        advance(State.CLAIMED, Event.CLAIM)
    assert sources(Event.CLAIM) == {
        State.REQUESTED: State.CLAIMED,
        State.NOTIFIED: State.CLAIMED,
    }


def test_a_failed_attempt_goes_back_to_the_queue_until_the_last_one() -> None:
    assert after_failed_attempt(1, 3) is Event.RETRY
    assert after_failed_attempt(3, 3) is Event.GIVE_UP


# --------------------------------------------------------------------------- policy


def test_sample_policy_puts_referrers_first_with_a_shorter_sla() -> None:
    policy = sample_generation().callbacks
    assert policy.priority_for("huisarts", "referrer") < policy.priority_for("resident", "resident")
    assert policy.sla_for("huisarts", "referrer") == 600
    assert policy.sla_for("relative", "relative") == 1200
    assert [s.target for s in policy.ladder] == [
        Target.ONCALL,
        Target.BACKUP,
        Target.TEAM,
        Target.FALLBACK,
    ]


def test_ladder_percentages_scale_with_the_sla() -> None:
    policy = sample_generation().callbacks
    start = ams(2026, 4, 27, 10, 0)
    referrer = policy.step_times(start, 600)
    resident = policy.step_times(start, 1200)
    assert [int((t - start).total_seconds()) for t in referrer] == [0, 300, 600, 900]
    assert [int((t - start).total_seconds()) for t in resident] == [0, 600, 1200, 1800]


def test_durations_need_a_unit() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("10m") == 600
    assert parse_duration("2h") == 7200
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("10") is None
    assert parse_duration(10) is None


def test_mistakes_in_the_callbacks_section_are_reported_with_file_and_line(tmp_path: Path) -> None:
    broken = """callbacks:
  sla: {referrer: 10, resident: 20m, relative: 20m, chef: 5m}
  escalation:
    - {notify: oncall, after: 5m}
    - {notify: everybody, after: 10m}
  fallback_team: gzz
  max_attempts: 0
  limits: {per: hour}
  retyr: {}
"""
    directory = make_config_dir(tmp_path, broken)
    with pytest.raises(ConfigError) as info:
        load(directory)
    text = "\n".join(info.value.problems)
    where = f"{directory / 'callbacks.yaml'}"
    for line, fragment in [
        (2, "callbacks.sla.referrer 10 is not a duration"),
        (2, "'chef' is not a caller type or kind"),
        (4, "the first escalation step must be sent at once"),
        (5, "'everybody' is not someone to notify"),
        (6, "unknown team 'gzz'"),
        (7, "callbacks.max_attempts must be a whole number from 1 to 10"),
        (8, "callbacks.limits.per 'hour' is not a duration"),
        (9, "unknown key 'retyr' in callbacks"),
    ]:
        assert f"{where}:{line}: {fragment}" in text, (fragment, text)


def test_a_caller_type_without_sla_is_reported(tmp_path: Path) -> None:
    directory = make_config_dir(
        tmp_path, "callbacks:\n  sla: {referrer: 10m}\n  fallback_team: ggz\n"
    )
    with pytest.raises(ConfigError) as info:
        load(directory)
    assert any(
        "says nothing for caller type(s) relative, resident" in p for p in info.value.problems
    )


# ------------------------------------------------------------------ requests and the ladder


def _request(moment: dt.datetime, facts: CallerFacts, number: str = "+31612344567") -> Request:
    generation = sample_generation()
    config = generation.config
    plan = route(moment, facts, config)
    return new_request(
        request_id="abc123def456",
        number=number,
        plan=plan,
        config=config,
        policy=generation.callbacks,
        moment=moment,
    )


def test_a_request_remembers_where_the_call_was_routed() -> None:
    request = _request(ams(2026, 4, 27, 10, 0), CallerFacts("resident", "18+", None))
    assert request.routes == (
        Route("iht", "eerste_lijn", True),
        Route("iht", "achterwacht", True),
    )
    assert request.number_masked == "+31 ***** 45 67"
    assert request.deadline - request.created_at == dt.timedelta(minutes=20)


def test_ladder_finds_oncall_then_backup_then_team_then_fallback_team() -> None:
    generation = sample_generation()
    config = generation.config
    policy = generation.callbacks
    moment = ams(
        2026, 4, 27, 10, 0
    )  # week of 27 April: iht eerste_lijn rota index 16 % 4 = 0 -> anna
    request = _request(moment, CallerFacts("resident", "18+", None))

    def who(target: Target) -> list[str]:
        return [m.id for m in recipients(target, request.routes, config, policy, moment)]

    assert who(Target.ONCALL) == ["anna"]
    assert who(Target.BACKUP) == ["eva"]
    assert who(Target.TEAM) == ["anna", "bram", "carla", "daan", "eva", "frank"]
    assert who(Target.FALLBACK) == [
        "otto",
        "quinten",
    ]  # ggz dienst (daily) and psychiater (weekly)


def test_ladder_follows_an_absence_to_the_next_in_the_rota() -> None:
    generation = sample_generation()
    config = generation.config
    policy = generation.callbacks
    moment = ams(2026, 12, 1, 10, 0)  # bram is ill 30 Nov - 5 Dec
    request = _request(moment, CallerFacts("resident", "18+", None))
    oncall = recipients(Target.ONCALL, request.routes, config, policy, moment)
    team = recipients(Target.TEAM, request.routes, config, policy, moment)
    assert "bram" not in [m.id for m in oncall + team]


def test_a_route_without_backup_has_an_empty_backup_step() -> None:
    generation = sample_generation()
    config = generation.config
    policy = generation.callbacks
    moment = ams(2026, 4, 27, 3, 0)  # night: ggz dienst, then a line
    request = _request(moment, CallerFacts("resident", "18+", None))
    assert recipients(Target.BACKUP, request.routes, config, policy, moment) == ()


# --------------------------------------------------------------------------- texts


def test_offer_sms_says_what_is_needed_and_never_the_number() -> None:
    generation = sample_generation()
    config = generation.config
    moment = ams(2026, 4, 27, 10, 0)
    request = _request(moment, CallerFacts("huisarts", "18+", "nijmegen"))
    request = Request(**{**request.__dict__, "code": "482"})
    texts = generation.callbacks.texts
    text = offer_sms(request, config, texts, moment + dt.timedelta(minutes=3), step=0)
    assert text.startswith(
        "Terugbelverzoek 482: Huisarts of huisartsenpost, Rijk van Nijmegen, 18 jaar of ouder"
    )
    assert "wacht 3 min" in text
    assert "+31 ***** 45 67" in text
    assert "OK 482" in text
    assert "612344567" not in text
    escalated = offer_sms(request, config, texts, moment, step=2)
    assert escalated.startswith("ESCALATIE 2: terugbelverzoek 482")


@pytest.mark.parametrize(
    ("body", "kind", "code"),
    [
        ("1", ReplyKind.CLAIM_LAST, None),
        (" ok ", ReplyKind.CLAIM_LAST, None),
        ("Ja!", ReplyKind.CLAIM_LAST, None),
        ("OK 123", ReplyKind.CLAIM_CODE, "123"),
        ("ok123", ReplyKind.CLAIM_CODE, "123"),
        ("Ok: 482.", ReplyKind.CLAIM_CODE, "482"),
        ("482", ReplyKind.CLAIM_CODE, "482"),
        ("2", ReplyKind.UNKNOWN, None),
        ("OK 12", ReplyKind.UNKNOWN, None),
        ("bel ik straks", ReplyKind.UNKNOWN, None),
    ],
)
def test_claim_replies(body: str, kind: ReplyKind, code: str | None) -> None:
    assert parse_reply(body) == Reply(kind, code)


def test_the_loser_of_a_claim_is_told_who_took_it() -> None:
    request = _request(ams(2026, 4, 27, 10, 0), CallerFacts())
    request = Request(**{**request.__dict__, "code": "482"})
    texts = sample_generation().callbacks.texts
    taken = Request(**{**request.__dict__, "state": State.CLAIMED})
    assert claim_reply(taken, False, "Anna de Vries (SPV)", texts) == (
        "Terugbelverzoek 482 is al geclaimd door Anna de Vries (SPV)."
    )
    assert "is van u" in claim_reply(taken, True, "Bram", texts)


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("raw", "refusal"),
    [
        ("0612345678", None),
        ("024 343 65 40", None),
        ("0900 1234567", Refusal.SERVICE),
        ("112", Refusal.SERVICE),
        ("1233", Refusal.SERVICE),
        ("06123", Refusal.INVALID),
        ("+32 470 12 34 56", Refusal.FOREIGN),
        ("0032470123456", Refusal.FOREIGN),
    ],
)
def test_callback_numbers_nl_only_never_premium_or_short(raw: str, refusal: Refusal | None) -> None:
    number, why = check_callback_number(raw, CallbackPolicy(), sample_config())
    assert why is refusal
    assert (number is None) == (refusal is not None)


def test_foreign_numbers_are_allowed_when_configured() -> None:
    number, why = check_callback_number(
        "+32 470 12 34 56", CallbackPolicy(allow_foreign=True), sample_config()
    )
    assert (number, why) == ("+32470123456", None)


def test_the_services_own_numbers_are_never_called_back() -> None:
    """Issue 9: the crisis number, any configured line and any staff mobile were
    accepted as callback numbers (the crisis line would have dialled itself)."""
    config = sample_config()
    own = {
        "crisis number": config.crisis_number,
        **{f"line {line.id}": line.number for line in config.lines},
        "a staff mobile": config.teams[0].members[0].mobile,
    }
    for what, number in own.items():
        assert check_callback_number(number, CallbackPolicy(), config) == (
            None,
            Refusal.OWN_LINE,
        ), what


def test_spoken_digits() -> None:
    assert spoken_digits("+31612344567") == "4 5 6 7"
    assert spoken_national("+31612345678") == "0 6 1 2 3 4 5 6 7 8"


# --------------------------------------------------------------------------- follow-ups


def test_a_new_request_schedules_every_ladder_step_and_its_expiry() -> None:
    moment = ams(2026, 4, 27, 10, 0)
    request = _request(moment, CallerFacts("huisarts", "18+", None))
    ups = follow_ups(request, sample_generation().callbacks, moment)
    assert [(u.job, u.step, int((u.at - moment).total_seconds())) for u in ups] == [
        (Job.NOTIFY, 0, 0),
        (Job.NOTIFY, 1, 300),
        (Job.NOTIFY, 2, 600),
        (Job.NOTIFY, 3, 900),
        (Job.EXPIRE, 0, 4 * 3600),
    ]
    assert {u.token for u in ups} == {1}


def test_a_claim_is_followed_by_the_bridge_and_the_taken_notice() -> None:
    moment = ams(2026, 4, 27, 10, 0)
    request = _request(moment, CallerFacts())
    claimed = Request(**{**request.__dict__, "state": State.CLAIMED, "claimed_by": "anna"})
    ups = follow_ups(claimed, sample_generation().callbacks, moment)
    assert [(u.job, u.token) for u in ups] == [(Job.BRIDGE, 1), (Job.TELL_CLAIMED, 1)]


def test_every_word_comes_from_the_config_and_a_broken_text_is_refused_with_file_and_line(
    tmp_path: Path,
) -> None:
    sample = (CONFIG_DIR / "callbacks.yaml").read_text(encoding="utf-8")
    broken = sample.replace("        en: Thank you. Speak to you soon.\n", "").replace(
        "Uw terugbelverzoek is genoteerd.", "Genoteerd voor {caller_name}."
    )
    directory = make_config_dir(tmp_path, broken)
    with pytest.raises(ConfigError) as info:
        load(directory)
    text = "\n".join(info.value.problems)
    assert "callbacks.texts.caller.goodbye has no en text" in text
    assert "callbacks.texts.caller.created.nl uses {caller_name}, which it cannot fill" in text
    assert f"{directory / 'callbacks.yaml'}:" in text


def test_the_sample_texts_cover_every_key_in_every_language() -> None:
    texts = sample_generation().callbacks.texts
    for key in (*Say, *Staff):
        for lang in texts.languages:
            assert texts.table[key.value][lang].strip(), (key, lang)


def test_claim_codes_as_long_as_call_refs_are_refused(tmp_path: Path) -> None:
    """A claim code could otherwise be read as a call ref when staff report an outcome."""
    sample = (CONFIG_DIR / "callbacks.yaml").read_text(encoding="utf-8")
    directory = make_config_dir(tmp_path, sample.replace("code_digits: 6", "code_digits: 8"))
    with pytest.raises(ConfigError) as info:
        load(directory)
    assert any("8-digit claim codes could be taken for call refs" in p for p in info.value.problems)
