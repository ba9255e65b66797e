"""Console pages over call data: Calls, a call's timeline, Callbacks, Reports.

Reads go through the owners' read APIs (`calls.reader.CallReader`,
`callbacks.store.CallbackStore`), triage through `calls.outcomes.TriageDesk`,
and actions through the callbacks service, so a claim, release or cancel
here follows exactly the rules of the SMS and CLI paths (one winner, the
same audit trail). Every view and every export is written to the access
log with the calls and callers it showed.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from callrouter.callbacks import service as callbacks
from callrouter.callbacks.lifecycle import OPEN
from callrouter.callbacks.requests import CancelReason, Request
from callrouter.callbacks.staff import member_by_id
from callrouter.callbacks.store import CallbackStore
from callrouter.calls.labels import Labels
from callrouter.calls.outcomes import TriageDesk
from callrouter.calls.reader import CallReader
from callrouter.calls.record import CallRecord, Reach
from callrouter.calls.render import csv_text, duration_text
from callrouter.calls.reporting import Report, build_report, period_bounds, sla_by_caller
from callrouter.calls.store import CallStore
from callrouter.config.generation import Generation
from callrouter.console.access_log import unique
from callrouter.console.policy import ConsoleRole
from callrouter.console.web import bp, deps, log_access, now, requires
from callrouter.routing.model import Config

FILTERS = ("caller_type", "age_group", "region", "reached", "answered_by")


def _day(raw: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(raw) if raw else default
    except ValueError:
        abort(400, f"{raw!r} is not a date (YYYY-MM-DD)")


def _matches(record: CallRecord, wanted: dict[str, str]) -> bool:
    facts = {
        "caller_type": record.caller_type or "",
        "age_group": record.age_group or "",
        "region": record.region or "",
        "reached": "open" if record.ended_at is None else record.reach.value,
        "answered_by": record.answered_by or "",
    }
    return all(facts[k] == v for k, v in wanted.items() if v)


CANCEL_REASONS = (
    (CancelReason.CALLER_REACHED.value, "Beller al bereikt / caller reached"),
    (CancelReason.DUPLICATE.value, "Dubbel verzoek / duplicate"),
    (CancelReason.WRONG_NUMBER.value, "Verkeerd nummer / wrong number"),
    (CancelReason.OTHER.value, "Andere reden / other"),
)
"""What a coordinator picks when cancelling: a code, never free text, because the
audit trail is kept for months (the CLI and API take the same codes)."""


# --------------------------------------------------------------------------- calls


@bp.get("/calls")
@requires(ConsoleRole.STAFF)
def calls_page() -> ResponseReturnValue:
    d = deps()
    config = d.config()
    local = now().astimezone(config.timezone)
    day = _day(request.args.get("day"), local.date())
    start, end = period_bounds(day, day + dt.timedelta(days=1), config.timezone)
    store = CallReader(d.redis())
    in_progress = store.open_calls() if day == local.date() else []
    done = list(reversed(store.records(start, end)))
    wanted = {k: request.args.get(k, "") for k in FILTERS}
    shown = [r for r in in_progress + done if _matches(r, wanted)]
    log_access(
        "view",
        "calls",
        subjects=unique(r.call_id for r in shown),
        callers=unique(r.caller_ref for r in shown),
        period=f"{start.isoformat()}/{end.isoformat()}",
    )
    return render_template(
        "console/calls.html",
        day=day,
        calls=shown,
        open_ids={r.call_id for r in in_progress},
        wanted=wanted,
        config=config,
        reached=[r.value for r in Reach],
        tz=config.timezone,
        duration_text=duration_text,
        name=lambda mid: _name(config, mid),
        refresh=30,
    )


def _name(config: Config, member_id: str | None) -> str:
    member = member_by_id(config, member_id or "")
    return member.name if member else (member_id or "-")


@bp.get("/calls/<call_id>")
@requires(ConsoleRole.STAFF)
def call_page(call_id: str) -> ResponseReturnValue:
    d = deps()
    config = d.config()
    store = CallReader(d.redis())
    day = _day(request.args.get("day"), now().astimezone(config.timezone).date())
    start, end = period_bounds(day, day + dt.timedelta(days=1), config.timezone)
    record = next((r for r in store.records(start, end) if r.call_id == call_id), None)
    record = record or store.snapshot(call_id)
    if record is None:
        abort(404)
    log_access("view", "call", subjects=(call_id,), callers=unique([record.caller_ref]))
    return render_template(
        "console/call.html",
        call=record,
        timeline=_timeline(record, config),
        tz=config.timezone,
        duration_text=duration_text,
    )


def _timeline(record: CallRecord, config: Config) -> list[tuple[dt.datetime, str]]:
    events: list[tuple[dt.datetime, str]] = []
    if record.started_at:
        events.append((record.started_at, "start"))
    for leg in record.legs:
        events.append((leg.at, f"leg {leg.index}: {_name(config, leg.who)} ({leg.result})"))
    if record.answered_at:
        events.append((record.answered_at, f"answered: {_name(config, record.answered_by)}"))
    for step in record.callback_steps:
        events.append((step.at, f"callback {record.callback_id}: {step.state}"))
    for outcome in record.outcomes:
        events.append((outcome.at, f"triage: {outcome.code} ({outcome.by}, {outcome.via})"))
    if record.ended_at:
        events.append((record.ended_at, f"end: {record.end_reason or '-'}"))
    return sorted(events, key=lambda e: e[0])


# --------------------------------------------------------------------------- callbacks


@bp.get("/callbacks")
@requires(ConsoleRole.STAFF)
def callbacks_page() -> ResponseReturnValue:
    d = deps()
    config = d.config()
    moment = now()
    store = CallbackStore(d.redis())
    queue = sorted(store.active(), key=lambda r: (r.priority, r.deadline))
    ids = [r.id for r in queue]
    pseudonyms = [store.pseudonym(rid) for rid in ids]
    log_access("view", "callbacks", subjects=tuple(ids), callers=unique(pseudonyms))
    return render_template(
        "console/callbacks.html",
        queue=queue,
        moment=moment,
        tz=config.timezone,
        open_states=OPEN,
        codes=d.generation().triage.codes,
        cancel_reasons=CANCEL_REASONS,
        name=lambda mid: _name(config, mid),
        refresh=30,
    )


def _context() -> callbacks.CallbackContext:
    deps().redis()  # 503 without Redis
    return deps().callback_context()


def _request_or_404(ctx: callbacks.CallbackContext, request_id: str) -> Request:
    found = ctx.store.get(request_id)
    if found is None:
        abort(404)
    return found


@bp.post("/callbacks/<request_id>/claim")
@requires(ConsoleRole.STAFF)
def claim(request_id: str) -> ResponseReturnValue:
    ctx = _context()
    _request_or_404(ctx, request_id)
    # Staff claim as by SMS (only what was offered to them); coordinators as the CLI does.
    coordinator = g.console_session.role is ConsoleRole.COORDINATOR
    via = "console-coordinator" if coordinator else "console"
    result = callbacks.claim(ctx, request_id, g.console_member.id, now(), via=via)
    if result.won:
        flash(f"claimed {request_id}")
    else:
        holder = _name(ctx.config, result.holder) if result.holder else "-"
        flash(f"not_claimed {request_id} {holder}")
    return redirect(url_for("console.callbacks_page"))


@bp.post("/callbacks/<request_id>/release")
@requires(ConsoleRole.STAFF)
def release(request_id: str) -> ResponseReturnValue:
    ctx = _context()
    found = _request_or_404(ctx, request_id)
    me = g.console_member.id
    if found.claimed_by != me and g.console_session.role is not ConsoleRole.COORDINATOR:
        abort(403)  # staff release their own claims; coordinators anyone's
    t = callbacks.release(ctx, request_id, now(), by=me)
    flash(("released " if t.ok else "not_released ") + request_id)
    return redirect(url_for("console.callbacks_page"))


@bp.post("/callbacks/<request_id>/cancel")
@requires(ConsoleRole.COORDINATOR)
def cancel(request_id: str) -> ResponseReturnValue:
    ctx = _context()
    _request_or_404(ctx, request_id)
    try:
        reason = CancelReason(request.form.get("reason") or CancelReason.ADMIN.value)
    except ValueError:
        abort(400, "unknown cancel reason")
    t = callbacks.cancel(ctx, request_id, now(), by=g.console_member.id, reason=reason)
    flash(("cancelled " if t.ok else "not_cancelled ") + request_id)
    return redirect(url_for("console.callbacks_page"))


@bp.post("/triage")
@requires(ConsoleRole.STAFF)
def triage() -> ResponseReturnValue:
    """Triage entry after a call: a call ref, callback id or claim code, and a code."""
    d = deps()
    codes = d.generation().triage
    code = codes.lookup(request.form.get("code", "").strip())
    ref = request.form.get("ref", "").strip()
    desk = TriageDesk(CallStore(d.redis(), None), CallbackStore(d.redis()))
    call_sid = desk.resolve(ref) if ref else None
    if code is None or call_sid is None:
        flash("triage_refused " + (ref or "-"))
        return redirect(request.referrer or url_for("console.callbacks_page")), 303
    desk.store.report_outcome(call_sid, code.code, now(), by=g.console_member.id, via="console")
    flash(f"triage_saved {ref} {code.label}")
    return redirect(url_for("console.callbacks_page"))


# --------------------------------------------------------------------------- reports


def _period(config: Config) -> tuple[dt.date, dt.date]:
    today = now().astimezone(config.timezone).date()
    first = _day(request.args.get("from"), today.replace(day=1))
    end = _day(request.args.get("to"), today + dt.timedelta(days=1))
    if end <= first:
        abort(400, "'to' must be after 'from' (to is exclusive)")
    return first, end


def _report(generation: Generation, first: dt.date, end: dt.date) -> Report:
    """The same report as `callrouter report`, from the call log's report rows;
    one generation throughout, so a reload mid-request cannot mix two configs."""
    config = generation.config
    start, stop = period_bounds(first, end, config.timezone)
    sla, sla_minutes = sla_by_caller(config, generation.callbacks)
    return build_report(
        CallReader(deps().redis()).report_rows(start, stop),
        start=start,
        end=stop,
        tz=config.timezone,
        callback_sla=sla,
        sla_minutes=sla_minutes,
        codes=generation.triage,
    )


def _labels(generation: Generation) -> Labels:
    return Labels.of(generation.config, generation.triage, "nl")


def _log_report(what: str, report: Report, action: str = "view") -> None:
    """A report holds counts, no call or caller: the period is what was seen."""
    log_access(action, what, period=f"{report.start.isoformat()}/{report.end.isoformat()}")


@bp.get("/reports")
@requires(ConsoleRole.COORDINATOR)
def reports_page() -> ResponseReturnValue:
    generation = deps().generation()
    first, end = _period(generation.config)
    report = _report(generation, first, end)
    _log_report("report", report)
    return render_template(
        "console/reports.html",
        report=report,
        first=first,
        end=end,
        duration_text=duration_text,
        busiest_max=max((n for row in report.heatmap for n in row), default=0),
    )


@bp.get("/reports/report.csv")
@requires(ConsoleRole.COORDINATOR)
def report_csv() -> ResponseReturnValue:
    generation = deps().generation()
    first, end = _period(generation.config)
    report = _report(generation, first, end)
    _log_report("report.csv", report, "export")
    name = f"crisislijn-{first}-{end}.csv"
    return Response(
        csv_text(report, _labels(generation)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/reports/report.png")
@requires(ConsoleRole.COORDINATOR)
def report_png() -> ResponseReturnValue:
    generation = deps().generation()
    first, end = _period(generation.config)
    report = _report(generation, first, end)
    inline = bool(request.args.get("inline"))
    _log_report("report.png", report, "view" if inline else "export")
    # matplotlib takes a quarter second to import: only the picture pays for it, not
    # every `callrouter` command (the CLI imports the console through `phone`).
    from callrouter.calls.plot import plot

    with tempfile.TemporaryDirectory() as folder:
        data = plot(report, _labels(generation), Path(folder) / "report.png").read_bytes()
    disposition = "inline" if inline else "attachment"
    name = f"crisislijn-{first}-{end}.png"
    return Response(
        data,
        mimetype="image/png",
        headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
    )
