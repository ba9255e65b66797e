"""Who calls: caller types, age groups and regions (callers.yaml), and the
directory of known numbers and the block list (directory.yaml).
"""

from __future__ import annotations

import re

from callrouter.config.builder import Builder
from callrouter.config.yaml_marks import PathKey
from callrouter.routing import numbers
from callrouter.routing.model import AgeGroup, CallerKind, CallerType, DirectoryEntry, Region


def caller_types(b: Builder) -> tuple[CallerType, ...]:
    raw = b.table(("caller_types",), b.doc.data.get("caller_types"))
    out = []
    kinds = {k.value for k in CallerKind}
    for cid, spec in raw.items():
        p: PathKey = ("caller_types", cid)
        spec = b.mapping(p, spec, {"kind", "label"}, {"kind"})
        kind = b.text(p + ("kind",), spec.get("kind"), "resident")
        if not b.ref(p + ("kind",), kind, kinds, "caller kind"):
            kind = "resident"
        out.append(
            CallerType(
                b.ident(p, cid),
                CallerKind(kind),
                b.text(p + ("label",), spec.get("label")),
                b.src(p),
            )
        )
    if not out:
        b.err(
            ("caller_types",),
            "no caller types are defined",
            "add caller_types (resident, relative, referrers)",
        )
    return tuple(out)


def age_groups(b: Builder) -> tuple[AgeGroup, ...]:
    out = []
    for gid, spec in b.table(("age_groups",), b.doc.data.get("age_groups")).items():
        p: PathKey = ("age_groups", str(gid))
        spec = b.mapping(p, spec, {"min", "max", "label"}, {"min"})
        low = b.integer(p + ("min",), spec.get("min"), 0, 0, 130)
        high = b.integer(p + ("max",), spec.get("max"), 130, low, 130) if "max" in spec else None
        out.append(
            AgeGroup(
                b.ident(p, gid),
                low,
                high,
                b.text(p + ("label",), spec.get("label")),
                b.src(p),
            )
        )
    if not out:
        b.err(("age_groups",), "no age groups are defined", 'add age_groups, e.g. "<18" and "18+"')
    return tuple(out)


def regions(b: Builder) -> tuple[Region, ...]:
    out = []
    for rid, spec in b.table(("regions",), b.doc.data.get("regions")).items():
        p: PathKey = ("regions", rid)
        spec = b.mapping(p, spec, {"name", "municipalities", "area_codes"}, {"name"})
        codes = tuple(str(c) for c in b.seq(p + ("area_codes",), spec.get("area_codes")))
        for j, code in enumerate(codes):
            if not re.fullmatch(r"0\d{1,3}", code):
                b.err(
                    p + ("area_codes", j),
                    f"{code!r} is not an area code",
                    'write it with its 0, quoted: "024"',
                )
        out.append(
            Region(
                b.ident(p, rid),
                b.text(p + ("name",), spec.get("name")),
                tuple(str(m) for m in b.seq(p + ("municipalities",), spec.get("municipalities"))),
                codes,
                b.src(p),
            )
        )
    return tuple(out)


def directory(b: Builder, caller_ids: set[str], region_ids: set[str]) -> tuple[DirectoryEntry, ...]:
    out = []
    for i, spec in enumerate(b.seq(("directory",), b.doc.data.get("directory"))):
        p: PathKey = ("directory", i)
        spec = b.mapping(
            p, spec, {"number", "caller_type", "name", "region"}, {"number", "caller_type"}
        )
        ctype = b.text(p + ("caller_type",), spec.get("caller_type"))
        b.ref(p + ("caller_type",), ctype, caller_ids, "caller type")
        region = spec.get("region")
        if region is not None:
            b.ref(p + ("region",), str(region), region_ids, "region")
        out.append(
            DirectoryEntry(
                b.phone(p + ("number",), spec.get("number")),
                ctype,
                b.text(p + ("name",), spec.get("name")),
                str(region) if region is not None else None,
                b.src(p),
            )
        )
    return tuple(out)


def blocked(b: Builder) -> frozenset[str]:
    out = set()
    for i, raw in enumerate(b.seq(("blocked",), b.doc.data.get("blocked"))):
        try:
            out.add(numbers.normalise(str(raw)))
        except numbers.NumberError as exc:
            b.err(("blocked", i), str(exc), "write the full number to block")
    return frozenset(out)
