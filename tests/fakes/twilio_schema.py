"""What Twilio refuses in a Calls or Messages create request, per its OpenAPI description.

The parameter list of each operation is copied from Twilio's OpenAPI file
(API v2010) to ``tests/data/twilio_create_params.json``; `refusal` checks a
form against it the way api.twilio.com does, and answers with the error
Twilio would give (code and message), or None when Twilio would accept it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "data" / "twilio_create_params.json"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_INTEGER = re.compile(r"^-?\d+$")
_CODES = {"To": 21211, "From": 21212, "Url": 21205, "StatusCallback": 21609}
"""Twilio's error codes for an invalid value of these parameters."""
INVALID_PARAMETER = 20001
"""Twilio's generic "invalid parameter" (also for a parameter the operation lacks)."""


@dataclass(frozen=True)
class Refusal:
    code: int
    message: str


def _schema() -> Mapping[str, Any]:
    loaded: Mapping[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))["resources"]
    return loaded


_RESOURCES = _schema()


def refusal(resource: str, form: Mapping[str, list[str]]) -> Refusal | None:
    """Twilio's answer to an invalid create request for `resource` ("Calls" or "Messages")."""
    spec = _RESOURCES[resource]
    properties: Mapping[str, Any] = spec["properties"]
    for name in spec["required"]:
        if not form.get(name):
            return Refusal(
                _CODES.get(name, INVALID_PARAMETER), f"Missing required parameter {name}"
            )
    for name, values in form.items():
        prop = properties.get(name)
        if prop is None:
            return Refusal(INVALID_PARAMETER, f"Unknown parameter {name} for {resource} create")
        is_array = prop.get("type") == "array"
        if not is_array and len(values) > 1:
            return Refusal(INVALID_PARAMETER, f"Parameter {name} may be given once")
        item = prop.get("items", {}) if is_array else prop
        for value in values:
            problem = _problem(item, value)
            if problem:
                return Refusal(_CODES.get(name, INVALID_PARAMETER), f"{name}: {value!r} {problem}")
    return None


def _problem(prop: Mapping[str, Any], value: str) -> str:
    """What is wrong with `value` for the property `prop` ('' when nothing)."""
    fmt = prop.get("format")
    if fmt == "uri" and not _absolute_http(value):
        return "must match format uri (an absolute http or https URL)"
    if fmt == "phone-number" and not E164.match(value):
        return "is not a valid phone number (E.164, e.g. +31612345678)"
    if fmt == "endpoint" and not (E164.match(value) or value.startswith(("client:", "sip:"))):
        return "is not a valid phone number, client or SIP endpoint"
    if "enum" in prop and value not in prop["enum"]:
        return f"must be one of {', '.join(prop['enum'])}"
    kind = prop.get("type")
    if kind == "integer" and not _INTEGER.match(value):
        return "must be an integer"
    if kind == "boolean" and value.lower() not in ("true", "false"):
        return "must be true or false"
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return "must be a number"
    if "pattern" in prop and not re.search(prop["pattern"], value):
        return f"must match {prop['pattern']}"
    if len(value) < prop.get("minLength", 0) or len(value) > prop.get("maxLength", len(value)):
        return "has the wrong length"
    return ""


def _absolute_http(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
