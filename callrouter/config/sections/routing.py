"""The routing model from every routing section: one `Config`, cross-referenced.

Built in dependency order (windows before closures, teams and lines before
rules) so each reference is checked against what was actually defined.
"""

from __future__ import annotations

from callrouter.config.builder import Builder
from callrouter.config.sections import calendar, callers, last_steps, rules, teams
from callrouter.routing.model import Config

ROUTING_SECTIONS = frozenset(
    {
        "timezone",
        "crisis_number",
        "fallback_line",
        "defaults",
        "holidays",
        "closures",
        "windows",
        "lines",
        "rules",
        "teams",
        "caller_types",
        "age_groups",
        "regions",
        "directory",
        "blocked",
        "final_line",
        "overflow",
    }
)


def build_config(b: Builder) -> Config:
    """The routing model; complete only when `b` collected no problem."""
    data = b.doc.data
    tz = calendar.timezone(b)
    policy = calendar.holidays(b)
    windows = calendar.windows(b)
    window_names = {w.name for w in windows}
    closures = calendar.closures(b, window_names)
    lines = rules.lines(b)
    team_list = teams.teams(b, tz)
    caller_types = callers.caller_types(b)
    ages = callers.age_groups(b)
    regions = callers.regions(b)
    caller_ids = {c.id for c in caller_types}
    region_ids = {r.id for r in regions}
    directory = callers.directory(b, caller_ids, region_ids)
    line_ids = {ln.id for ln in lines}
    fallback = b.text(("fallback_line",), data.get("fallback_line"))
    if not fallback:
        b.err(
            ("fallback_line",),
            "no fallback_line is set",
            "name the 24/7 line dialled when anything fails",
        )
    else:
        b.ref(("fallback_line",), fallback, line_ids, "line")
    groups: dict[str, set[str]] = {}
    for c in caller_types:
        groups.setdefault(c.kind.value, set()).add(c.id)
    groups = {k: v for k, v in groups.items() if k not in caller_ids}
    ctx = rules.RuleContext(
        window_names,
        caller_ids,
        groups,
        {a.id for a in ages},
        region_ids,
        line_ids,
        {t.id: {r.name for r in t.roles} for t in team_list},
        fallback,
    )
    rule_list = rules.rules(b, ctx)
    if not b.doc.broken & {"windows", "caller_types", "age_groups", "regions"}:
        rules.shadowed(b, rule_list)  # a condition missing its broken names covers too much
    defaults = b.mapping(
        ("defaults",),
        data.get("defaults"),
        {"caller_type", "age_group"},
        frozenset({"caller_type", "age_group"}),
    )
    default_caller = b.text(("defaults", "caller_type"), defaults.get("caller_type"), "resident")
    default_age = b.text(("defaults", "age_group"), defaults.get("age_group"), "18+")
    if "caller_type" in defaults:
        b.ref(("defaults", "caller_type"), default_caller, caller_ids, "caller type")
    if "age_group" in defaults:
        b.ref(("defaults", "age_group"), default_age, {a.id for a in ages}, "age group")
    crisis = b.phone(("crisis_number",), data["crisis_number"]) if "crisis_number" in data else ""
    if not crisis:
        b.err(
            ("crisis_number",),
            "no crisis_number is set",
            "give the public crisis number (the caller id of every leg)",
        )
    return Config(
        timezone=tz,
        holidays=policy,
        closures=closures,
        windows=windows,
        teams=team_list,
        caller_types=caller_types,
        age_groups=ages,
        regions=regions,
        directory=directory,
        blocked=callers.blocked(b),
        lines=lines,
        rules=rule_list,
        fallback_line=fallback,
        default_caller_type=default_caller,
        default_age_group=default_age,
        crisis_number=crisis,
        final_line=last_steps.attempts(b, ("final_line",), data.get("final_line")),
        overflow=last_steps.overflow(b, line_ids, window_names),
    )
