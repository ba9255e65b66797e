"""`callrouter phone`: place a simulated call and hear what a caller would hear.

This is how an admin tries a configuration before it goes live: the call
goes through the real voice webhooks (in-process on the config directory,
or over HTTP to a running `callrouter serve` / production-like service),
signed like Twilio signs, and the CLI prints what the caller hears, which
phones ring, what staff hear in the whisper, and how the call ends.

    callrouter phone --from +31612345678 --at 2026-04-28T10:00 --digits 1,2,1 --answer no,yes
    callrouter phone --from +31612345678             # interactive: you press the keys

Scripted answers to menus: a key ("2"), words to say ("say:huisarts"), or
nothing for silence ("--digits 1,,2", or "--digits=-,2"). What each dialled
leg does: yes (accepts with 1), no (not answered), busy, fail, voicemail
(picks up, presses nothing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from callrouter.cli.common import (
    UsageError,
    add_config_arg,
    config_dir_default,
    load_or_explain,
    parse_moment,
)
from callrouter.devtools.twilio_sim import (
    CallState,
    Happening,
    HttpTransport,
    SimCall,
    SimError,
    Transport,
    Twilio,
    WsgiTransport,
)
from callrouter.privacy import mask_number
from callrouter.routing.model import Config
from callrouter.settings import cli_settings
from callrouter.web.app import create_app
from ivr.estimate import Heard, played

IN_PROCESS_URL = "http://callrouter.local"
LEG_ACTIONS = ("yes", "no", "busy", "fail", "voicemail")
_STATUS = {"no": "no-answer", "busy": "busy", "fail": "failed"}
_LEG_WORDS = {"y": "yes", "n": "no", "ja": "yes", "j": "yes", "nee": "no"}
"""What people type at "phone(s) ringing: yes, no, ...?" (y was taken as no answer)."""

Ask = Callable[[str], str]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "phone",
        help="place a simulated call through the IVR and print what happens",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--from",
        dest="caller",
        required=True,
        metavar="NUMBER",
        help="the caller's number, e.g. +31612345678 (a directory number skips the menu)",
    )
    parser.add_argument(
        "--to",
        default=None,
        metavar="NUMBER",
        help="the number called (default: the config's crisis_number)",
    )
    parser.add_argument(
        "--at",
        metavar="TIME",
        help="local time of the call, e.g. 2026-04-28T10:00 (in-process only)",
    )
    parser.add_argument(
        "--digits",
        metavar="LIST",
        help="menu answers in order: 2,say:huisarts,- (without it you are asked)",
    )
    parser.add_argument(
        "--answer",
        metavar="LIST",
        help=f"what each dialled leg does, in order: {', '.join(LEG_ACTIONS)}",
    )
    parser.add_argument(
        "--url",
        metavar="URL",
        help="a running service (its TWILIO_AUTH_TOKEN must be in the environment)",
    )
    add_config_arg(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except UsageError as exc:
        print(f"callrouter phone: {exc}", file=sys.stderr)
        return 2
    except SimError as exc:
        print(f"the service did something Twilio could not follow: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    directory = args.config or config_dir_default()
    config = load_or_explain(directory)
    moment = parse_moment(args.at, config.timezone)
    # Scripted when --digits is given (legs default to "no"); otherwise you play the caller.
    scripted = args.digits is not None
    menu_answers = _script(args.digits, then="-") if scripted else None
    leg_answers = _script(args.answer or "", then="no") if scripted or args.answer else None
    bad = [a for a in (args.answer or "").split(",") if a.strip() and a.strip() not in LEG_ACTIONS]
    if bad:
        raise UsageError(f"--answer {', '.join(bad)}: use {', '.join(LEG_ACTIONS)}")
    story: list[Happening] = []

    def now() -> dt.datetime:
        """The call's moment plus the time the call has taken so far (estimated from
        what was said and rung), so the time bound acts as it would on a real call."""
        return moment + dt.timedelta(seconds=played(_heard(story))[1])

    twilio, where = _twilio(args, directory, now)
    names = _names(config)
    print(f"call from {mask_number(args.caller)} to {where} at {moment:%a %Y-%m-%d %H:%M %Z}")
    call = SimCall(
        twilio,
        args.caller,
        args.to or config.crisis_number,
        on_happening=lambda h: print(_describe(h, names)),
        story=story,
    )
    call.start()
    _drive(call, menu_answers, leg_answers, _ask)
    # Twilio reports the end of every call to the number's status callback;
    # without it the call log never closes the call.
    call.report_end()
    first, end = played(_heard(call.story))
    print(
        "estimated (README: How long until the first ring): "
        + (f"first ring after {first:.1f} s, " if first is not None else "no phone rang, ")
        + f"the call ended after {end:.1f} s"
    )
    return 0


def _heard(story: list[Happening]) -> Iterator[Heard]:
    """The call's story as `ivr.estimate.played` reads it."""
    menu_timeout = 0.0
    for h in story:
        lang = h.language.split("-")[0] or "nl"
        if h.kind == "caller-hears":
            yield Heard("menu-say" if h.in_menu else "say", h.text, lang)
        elif h.kind == "menu":
            menu_timeout = h.seconds
        elif h.kind == "input" and not h.number:
            pressed = h.text.removeprefix("presses ")
            silent = h.text == "says nothing"
            yield Heard("silence", value=menu_timeout) if silent else Heard("press", pressed)
        elif h.kind == "dial":
            yield Heard("ring")
        elif h.kind == "leg" and h.seconds:
            yield Heard("rang", value=h.seconds)


def _ask(prompt: str) -> str:
    """A line from the keyboard; end of input hangs up."""
    try:
        return input(prompt)
    except EOFError:
        return "q"


def _script(raw: str, then: str) -> Iterator[str]:
    """The comma-separated answers in `raw` (an empty one is silence), then `then` for ever."""
    if raw:
        yield from (item.strip() or "-" for item in raw.split(","))
    while True:
        yield then


def _twilio(
    args: argparse.Namespace, directory: str, now: Callable[[], dt.datetime]
) -> tuple[Twilio, str]:
    transport: Transport
    if args.url:
        if args.at:
            raise UsageError("--at only works in-process: a running service reads its own clock")
        token = cli_settings().twilio_auth_token
        if not token:
            raise UsageError(
                "set TWILIO_AUTH_TOKEN to the service's token (callrouter serve prints it)"
            )
        return Twilio(HttpTransport(), token, args.url), args.url
    token = secrets.token_urlsafe(24)
    app = create_app(
        {
            "TWILIO_AUTH_TOKEN": token,
            "SECRET": secrets.token_urlsafe(32),
            "PSEUDONYM_KEY": secrets.token_urlsafe(32),
            "CONFIG_DIR": str(Path(directory)),
            "REDIS_URL": cli_settings().redis_url,
            "DRY_RUN": True,
            "CLOCK": now,
        }
    )
    transport = WsgiTransport(app.test_client())
    return Twilio(transport, token, IN_PROCESS_URL), f"the config in {directory} (in-process)"


def _drive(
    call: SimCall, menu_answers: Iterator[str] | None, leg_answers: Iterator[str] | None, ask: Ask
) -> None:
    """Play the caller and the dialled phones until the call ends."""
    while call.state is not CallState.ENDED:
        if call.state is CallState.MENU:
            answer = (
                next(menu_answers)
                if menu_answers
                else ask("  press a key, type words to say, Enter for silence, q to hang up: ")
            )
            _answer_menu(call, answer.strip())
        elif call.state is CallState.RINGING and call.dialling is not None:
            ringing = tuple(r.number for r in call.dialling.numbers)
            action = (
                next(leg_answers)
                if leg_answers
                else ask(
                    f"  {len(ringing)} phone(s) ringing: {', '.join(LEG_ACTIONS)} or q: "
                ).strip()
            )
            _answer_leg(call, action)
        elif call.state is CallState.CONNECTED:
            print("  ... the conversation takes place ...")
            call.end_conversation()


def _answer_menu(call: SimCall, answer: str) -> None:
    if answer == "q":
        call.hang_up()
    elif answer in ("", "-"):
        call.silence()
    elif answer.startswith("say:"):
        call.say(answer[4:])
    elif answer.isdigit() or answer in ("*", "#"):
        call.press(answer)
    elif answer.endswith("#") and answer[:-1].isdigit():
        call.press(answer[:-1])  # "#" ends typed digits (Twilio's finishOnKey), not speech
    else:
        call.say(answer)


def _answer_leg(call: SimCall, action: str) -> None:
    action = _LEG_WORDS.get(action.lower(), action.lower())
    if action == "q":
        call.hang_up()
    elif action == "yes":
        call.pick_up(0, "1")
    elif action == "voicemail":
        call.pick_up(0, None)
    else:
        call.ring_out(_STATUS.get(action, "no-answer"))


def _names(config: Config) -> dict[str, str]:
    """Staff and line names by number, so the output says who rings."""
    names = {line.number: line.label or line.id for line in config.lines}
    for team in config.teams:
        names.update({m.mobile: m.name for m in team.members})
    return names


def _describe(happening: Happening, names: dict[str, str]) -> str:
    who = names.get(happening.number, "") if happening.number else ""
    phone = f"{who} ({mask_number(happening.number)})" if who else mask_number(happening.number)
    match happening.kind:
        case "caller-hears":
            return f"caller hears: {happening.text}"
        case "staff-hears":
            return f"    {who or 'staff'} hears: {happening.text}"
        case "menu":
            return f"  (the menu {happening.text})"
        case "input":
            return (
                f"    {who or 'staff'} {happening.text}"
                if happening.number
                else f"  caller {happening.text}"
            )
        case "dial":
            return f"dialling {phone}: {happening.text}"
        case "leg":
            return f"  {happening.text}" + (f": {phone}" if happening.number else "")
        case "connected":
            return f"connected to {phone}"
        case _:
            return f"call ends: {happening.text}"
