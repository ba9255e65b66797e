"""`callrouter staff`: play a staff member's phone against the running service.

The other half of `callrouter phone`: a callback waits until a staff member
claims it by SMS, and then the service calls them from the crisis number,
they hear who waits, press 1 and the caller's phone rings. Locally nobody
has that phone, so this command is it, signed like Twilio signs:

    callrouter staff --as anna sms "OK 482"     # claim callback 482 (or: "1", "T 48213097 advies")
    callrouter staff --as anna answer           # pick up the bridge call, press 1, caller answers
    callrouter staff --as anna answer --caller no --triage 2

It finds a `callrouter serve` running in this directory by itself (its URL,
Redis and generated token, see callrouter.devtools.local_run); for another
service give --url and TWILIO_AUTH_TOKEN (and REDIS_URL for `answer`).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable

from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.requests import Request
from callrouter.callbacks.store import CallbackStore
from callrouter.cli.common import (
    UsageError,
    add_config_arg,
    cli_redis,
    config_dir_default,
    load_or_explain,
)
from callrouter.devtools.local_run import LocalRun
from callrouter.devtools.twilio_sim import (
    ACCOUNT_SID,
    CallState,
    Happening,
    HttpTransport,
    SimCall,
    SimError,
    Twilio,
    spoken,
)
from callrouter.privacy import mask_number
from callrouter.routing.model import Config, Member
from callrouter.settings import cli_settings, local_data_dir

BRIDGE_WAIT_SECONDS = 10.0
"""How long `answer` waits for the worker to place the call after a claim."""
CALLER_ACTIONS = ("yes", "no", "busy", "fail")
_STATUS = {"no": "no-answer", "busy": "busy", "fail": "failed"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "staff",
        help="play a staff phone against the running service: reply by SMS, answer a call",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--as", dest="member", required=True, metavar="ID", help="a team member id, e.g. anna"
    )
    parser.add_argument("--url", metavar="URL", help="the service (default: the local serve)")
    add_config_arg(parser)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sms = actions.add_parser("sms", help="send an SMS to the crisis number from this mobile")
    sms.add_argument("text", help='e.g. "OK 482", "1" or "T 48213097 advies"')
    sms.set_defaults(func=run_sms)
    answer = actions.add_parser("answer", help="pick up the callback call the service places")
    answer.add_argument("--press", default="1", help="key pressed after the whisper (default 1)")
    answer.add_argument(
        "--caller",
        default="yes",
        choices=CALLER_ACTIONS,
        help="what the caller's phone does (default: yes, picks up)",
    )
    answer.add_argument("--triage", metavar="KEY", help="key for the triage menu afterwards")
    answer.set_defaults(func=run_answer)


def run_sms(args: argparse.Namespace) -> int:
    config, member, twilio = _setup(args)
    params = {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "From": member.mobile,
        "To": config.crisis_number,
        "Body": args.text,
    }
    print(f"{member.name} ({mask_number(member.mobile)}) texts: {args.text}")
    root = _post(twilio, "/sms/incoming", params)
    replies = [spoken(m) for m in root.iter("Message")] if root is not None else []
    for reply in replies or ["(no reply)"]:
        print(f"reply: {reply}")
    return 0


def run_answer(args: argparse.Namespace) -> int:
    config, member, twilio = _setup(args)
    if not cli_settings().redis_url:
        raise UsageError("no Redis to find the call in: start `callrouter serve` or set REDIS_URL")
    request = _placed_call(CallbackStore(cli_redis()), member.id)
    call = SimCall(twilio, config.crisis_number, member.mobile, on_happening=_printer(member))
    print(f"the crisis line calls {member.name} ({mask_number(member.mobile)}) for {request.code}")
    try:
        call.start(f"/voice/callback/bridge/{request.id}/staff?attempt={request.attempts}")
        _play(call, args)
    except SimError as exc:
        print(f"the service did something Twilio could not follow: {exc}")
        return 1
    return 0


def _play(call: SimCall, args: argparse.Namespace) -> None:
    """Press after the whisper, let the caller's phone do what was asked, talk, hang up."""
    pressed = False
    while call.state is not CallState.ENDED:
        if call.state is CallState.MENU and not pressed:
            call.press(args.press)
            pressed = True
        elif call.state is CallState.MENU:
            if args.triage is None:
                call.hang_up()
            else:
                call.press(args.triage)
                args.triage = None
        elif call.state is CallState.RINGING:
            if args.caller == "yes":
                call.pick_up(0, None)
            else:
                call.ring_out(_STATUS[args.caller])
        elif call.state is CallState.CONNECTED:
            print("  ... the conversation takes place ...")
            call.end_conversation()
        else:
            call.hang_up()


def _setup(args: argparse.Namespace) -> tuple[Config, Member, Twilio]:
    config = load_or_explain(args.config or config_dir_default())
    members = {m.id: m for team in config.teams for m in team.members}
    member = members.get(args.member)
    if member is None:
        raise UsageError(
            f"--as {args.member!r} is not a team member; use one of: {', '.join(sorted(members))}"
        )
    local = LocalRun.read(local_data_dir())
    base = args.url or (local.web_url if local else None)
    if not base:
        raise UsageError("no running service found here: start `callrouter serve` or give --url")
    token = cli_settings().twilio_auth_token or (
        local.twilio_auth_token if local and base == local.web_url else ""
    )
    if not token:
        raise UsageError("set TWILIO_AUTH_TOKEN to the service's token")
    return config, member, Twilio(HttpTransport(), token, base)


def _post(twilio: Twilio, path: str, params: dict[str, str]) -> object:
    try:
        return twilio.post(path, params)
    except SimError as exc:
        raise UsageError(f"the service refused the request: {exc}") from None


def _placed_call(store: CallbackStore, member_id: str) -> Request:
    """The callback this member claimed whose call the worker placed (waits a little)."""
    deadline = time.monotonic() + BRIDGE_WAIT_SECONDS
    while True:
        mine = [r for r in store.active() if r.claimed_by == member_id]
        calling = [r for r in mine if r.state is State.CALLING]
        if calling:
            return calling[-1]
        if not mine or time.monotonic() >= deadline:
            raise UsageError(
                f"no call is being placed to {member_id}: claim a callback first "
                f'(callrouter staff --as {member_id} sms "OK <code>")'
            )
        time.sleep(0.2)


def _printer(member: Member) -> Callable[[Happening], None]:
    def show(happening: Happening) -> None:
        match happening.kind:
            case "caller-hears":
                print(f"{member.name} hears: {happening.text}")
            case "input":
                print(f"  {member.name} {happening.text}")
            case "dial":
                print(f"the caller's phone ({mask_number(happening.number)}) rings")
            case "connected":
                print("the caller answers: connected")
            case "leg":
                print(f"  the caller's phone: {happening.text}")
            case "ended":
                print(f"call ends: {happening.text}")
            case _:
                print(f"  ({happening.text})")

    return show
