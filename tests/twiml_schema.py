"""Check TwiML against Twilio's voice schema (tests/data/twiml-voice.strict.xsd).

The schema was generated from twilio-node's VoiceResponse types with
closed attribute sets and enumerated voices and languages. This reads the
few XSD constructs it uses with ElementTree (no lxml needed) and checks a
document: which elements may nest where, which attributes an element has,
and each attribute's value (integers, booleans, enumerations, patterns,
lists). A misspelt attribute, a voice Twilio does not have, or a Gather
language it cannot recognise fails the test that produced the document.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

XSD = Path(__file__).parent / "data" / "twiml-voice.strict.xsd"
_XS = "{http://www.w3.org/2001/XMLSchema}"


@dataclass(frozen=True)
class SimpleType:
    base: str = "xs:string"
    enumeration: frozenset[str] = frozenset()
    pattern: str | None = None
    is_list: bool = False

    def accepts(self, value: str) -> bool:
        items = value.split() if self.is_list else [value]
        return bool(items) and all(self._accepts_one(item) for item in items)

    def _accepts_one(self, value: str) -> bool:
        if self.enumeration and value not in self.enumeration:
            return False
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return False
        if self.base == "xs:integer":
            return re.fullmatch(r"[+-]?\d+", value) is not None
        if self.base == "xs:boolean":
            return value in ("true", "false", "1", "0")
        return True


@dataclass(frozen=True)
class ComplexType:
    mixed: bool
    children: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Schema:
    roots: dict[str, str]
    complex: dict[str, ComplexType]
    simple: dict[str, SimpleType]

    def problems(self, root: ET.Element) -> list[str]:
        if root.tag not in self.roots:
            return [f"<{root.tag}> is not a TwiML document root"]
        out: list[str] = []
        self._check(root, self.roots[root.tag], root.tag, out)
        return out

    def _check(self, element: ET.Element, type_name: str, where: str, out: list[str]) -> None:
        kind = self.complex[type_name]
        for name, value in element.attrib.items():
            attr_type = kind.attributes.get(name)
            if attr_type is None:
                out.append(f"{where}: <{element.tag}> has no attribute {name!r}")
            elif not self._simple(attr_type).accepts(value):
                out.append(f"{where}: {name}={value!r} is not a valid {attr_type}")
        if not kind.mixed and (element.text or "").strip():
            out.append(f"{where}: <{element.tag}> may not contain text")
        for child in element:
            child_type = kind.children.get(child.tag)
            if child_type is None:
                out.append(f"{where}: <{child.tag}> is not allowed in <{element.tag}>")
                continue
            self._check(child, child_type, f"{where}/{child.tag}", out)

    def _simple(self, name: str) -> SimpleType:
        return self.simple.get(name) or SimpleType(base=name)


@functools.cache
def voice_schema() -> Schema:
    tree = ET.parse(XSD).getroot()
    simple: dict[str, SimpleType] = {}
    for node in tree.iter(f"{_XS}simpleType"):
        name = node.get("name")
        if name is None:
            continue  # anonymous item type of a list: read with its list
        lst = node.find(f"{_XS}list")
        restriction = node.find(f".//{_XS}restriction")
        if lst is not None and lst.get("itemType"):
            simple[name] = SimpleType(base=lst.get("itemType", ""), is_list=True)
            continue
        assert restriction is not None, name
        pattern = restriction.find(f"{_XS}pattern")
        simple[name] = SimpleType(
            base=restriction.get("base", "xs:string"),
            enumeration=frozenset(
                e.get("value", "") for e in restriction.iter(f"{_XS}enumeration")
            ),
            pattern=pattern.get("value") if pattern is not None else None,
            is_list=lst is not None,
        )
    complex_types = {
        node.get("name", ""): ComplexType(
            mixed=node.get("mixed") == "true",
            children={e.get("name", ""): e.get("type", "") for e in node.iter(f"{_XS}element")},
            attributes={a.get("name", ""): a.get("type", "") for a in node.iter(f"{_XS}attribute")},
        )
        for node in tree.iter(f"{_XS}complexType")
    }
    roots = {e.get("name", ""): e.get("type", "") for e in tree.findall(f"{_XS}element")}
    return Schema(roots, complex_types, simple)


def assert_valid_twiml(root: ET.Element) -> None:
    problems = voice_schema().problems(root)
    assert not problems, "TwiML does not match Twilio's schema:\n  " + "\n  ".join(problems)
