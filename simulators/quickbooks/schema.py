"""Intuit's XSDs as the contract of every JSON body the QuickBooks simulator takes or gives.

The v3 JSON API is the XSDs' XML written as JSON: element names are keys, a complex
element is an object, an element that may repeat (maxOccurs > 1) is an array, attributes
are plain keys (`domain`, `sparse`, `bId`, `code`, `time`), and simple content with
attributes (`ReferenceType`) keeps its text under "value": `{"value": "35", "name":
"Checking"}`. A body is checked in two passes:

1. `_shape` walks the JSON beside the schema and finds what only JSON can get wrong:
   unknown keys, an object where the schema has a single value and the reverse, an array
   where at most one element is allowed and the reverse, `null`. It knows the path.
2. xmlschema encodes the body against the element in its unordered mode (JSON keeps no
   order; the XSD's sequences do), which checks what the XSD says of values and content:
   decimals, dates, booleans, enumerations, lengths, required elements and attributes.

The schema (the vendored copy in `xsd/`, Apache 2.0, see `xsd/LICENSE`) loads once per
process, in about 0.6 s; each type's key index is cached, so a check costs a few
milliseconds. `request_violations` and `response_violations` are the two entry points.

Where real traffic contradicts the XSD, the loaded schema is relaxed, each case named in
`RELAXED` with its reason; nothing else is.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xmlschema
from xmlschema.converters import UnorderedConverter

XSD_DIR = Path(__file__).resolve().parent / "xsd"
NS = "http://schema.intuit.com/finance/v3"

# (type, child element) -> why its minOccurs is taken as 0.
RELAXED = {
    ("Transfer", "TransferEx"): (
        "minOccurs=1 in the XSD, yet Intuit's own Transfer samples and every client send "
        "{FromAccountRef, ToAccountRef, Amount} without it, and the service accepts them"
    ),
}


@dataclass(frozen=True)
class Violation:
    """One place where a body breaks Intuit's schema."""

    direction: str  # "request" or "response"
    element: str  # the XSD element the body was checked against
    path: str  # JSON path: Purchase.Line[0].Amount
    kind: str  # "unknown", "shape", "value" or "missing"
    reason: str
    request: str = ""  # "POST /v3/company/…/purchase", filled in by the simulator

    def __str__(self) -> str:
        where = f" ({self.request})" if self.request else ""
        return f"{self.direction} {self.path}: {self.reason}{where}"


_lock = threading.Lock()


@functools.cache
def schema() -> xmlschema.XMLSchema10:
    loaded = xmlschema.XMLSchema10(str(XSD_DIR / "IntuitRestServiceDef.xsd"))
    for (type_name, child_name), _why in RELAXED.items():
        for child in loaded.types[type_name].content.iter_elements():
            if child.local_name == child_name:
                child.min_occurs = 0
    return loaded


def request_violations(element: str, body: Any) -> list[Violation]:
    """What is wrong with a request body sent as `element` (Purchase, IntuitBatchRequest…)."""
    return _check(element, body, "request")


def response_violations(body: Any) -> list[Violation]:
    """What is wrong with a response body (an `IntuitResponse`)."""
    return _check("IntuitResponse", body, "response")


def has_property(entity: str, path: str) -> bool:
    """Whether `path` (`MetaData.LastUpdatedTime`, case-insensitive) exists on `entity`."""
    return property_type(entity, path) is not None


def property_type(entity: str, path: str) -> str | None:
    """The XSD primitive type (decimal, date, dateTime, boolean, string…) at `path`
    (case-insensitive; attributes too: `AttachableRef.EntityRef.Type`), "ref" for a
    ReferenceType, "object" for other complex values; None when there is no such property."""
    found = _walk_path(entity, path)
    if found is None:
        return None
    _spelling, component = found
    xtype = component.type
    if xtype.is_simple():
        return str(xtype.primitive_type.local_name)
    if xtype.has_simple_content():
        return "ref"
    return "object"


def canonical_path(entity: str, path: str) -> str | None:
    """`path` spelt as the schema spells it (`metadata.lastupdatedtime` ->
    `MetaData.LastUpdatedTime`), or None."""
    found = _walk_path(entity, path)
    return found[0] if found else None


def _walk_path(entity: str, path: str) -> tuple[str, Any] | None:
    component: Any = schema().elements.get(entity)
    parts = []
    for part in path.split("."):
        if component is None or component.type.is_simple():
            return None
        entry = _key_index(component.type).get(part.lower())
        if entry is None or entry[0] == "text":
            return None
        parts.append(entry[1])
        component = entry[2]
    return ".".join(parts), component


# --- the passes --------------------------------------------------------------------------


def _check(element: str, body: Any, direction: str) -> list[Violation]:
    xsd_element = schema().elements[element]
    found: list[Violation] = []
    _shape(xsd_element, body, element, direction, element, found)
    if found:  # the value checks of a body with the wrong shape would only echo it
        return found
    with _lock:  # xmlschema's encoder is not documented as thread-safe
        result, errors = xsd_element.encode(
            body,
            validation="lax",
            converter=_JsonConverter,
            unordered=True,
            namespaces={"": NS},
            attr_prefix="@",
            text_key="$",
        )
    for error in errors:
        found.append(_from_xmlschema(error, result, element, direction))
    return found


def _shape(
    xsd_element: Any, value: Any, path: str, direction: str, root: str, out: list[Violation]
) -> None:
    def flag(kind: str, reason: str, where: str = path) -> None:
        out.append(Violation(direction, root, where, kind, reason))

    xtype = xsd_element.type
    if value is None:
        flag("shape", "null is not a value; leave the property out instead")
        return
    if xtype.is_simple():
        if isinstance(value, (dict, list)):
            flag("shape", f"takes a single value, not {_kind(value)}")
        elif isinstance(value, bool) and xtype.primitive_type.local_name != "boolean":
            flag("shape", "takes a number or text, not true/false")
        return
    if not isinstance(value, dict):
        flag("shape", f"must be an object, not {_kind(value)}")
        return
    index = _key_index(xtype)
    for key, item in value.items():
        entry = index.get(key.lower()) if isinstance(key, str) else None
        if entry is None or entry[1] != key:
            flag("unknown", "is not a property of this object", f"{path}.{key}")
            continue
        kind, _name, component, max_occurs = entry
        child_path = f"{path}.{key}"
        if kind in ("attribute", "text"):
            if item is None or isinstance(item, (dict, list)):
                flag("shape", f"takes a single value, not {_kind(item)}", child_path)
            continue
        repeated = max_occurs is None or max_occurs > 1
        if repeated and not isinstance(item, list):
            flag("shape", f"must be an array, not {_kind(item)}", child_path)
        elif not repeated and isinstance(item, list):
            flag("shape", "must be a single value, not an array", child_path)
        elif repeated:
            for position, entry_value in enumerate(item):
                _shape(component, entry_value, f"{child_path}[{position}]", direction, root, out)
        else:
            _shape(component, item, child_path, direction, root, out)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a single value"


@functools.cache
def _key_index(xtype: Any) -> dict[str, tuple[str, str, Any, int | None]]:
    """JSON keys of a complex type, lower-cased -> (attribute|text|child, spelling,
    component, maxOccurs). A substitution group's head stands for its members
    (IntuitObject -> Purchase, Account, …) as the JSON names the member, with the head's
    occurrence (`QueryResponse` holds arrays of them, `IntuitResponse` one)."""
    index: dict[str, tuple[str, str, Any, int | None]] = {}
    for name, attribute in xtype.attributes.items():
        if name:
            local = name.split("}")[-1]
            index[local.lower()] = ("attribute", local, attribute, 1)
    if xtype.has_simple_content():
        index["value"] = ("text", "value", None, 1)
        return index
    groups = schema().maps.substitution_groups
    for child in _elements(xtype):
        members = [child] if not child.abstract else []
        members += sorted(groups.get(child.name, ()), key=lambda m: m.local_name)
        for member in members:
            entry = ("child", member.local_name, member, child.max_occurs)
            index.setdefault(member.local_name.lower(), entry)
    return index


def _elements(xtype: Any) -> Iterator[Any]:
    content = xtype.content
    if content is None or not hasattr(content, "iter_elements"):
        return iter(())
    return (e for e in content.iter_elements() if hasattr(e, "local_name"))


class _JsonConverter(UnorderedConverter):
    """Reads the JSON spelling: attribute keys and "value" (simple content) are moved to
    the prefixes xmlschema's converter expects."""

    __slots__ = ()

    def element_encode(self, obj: Any, xsd_element: Any, level: int = 0) -> Any:
        if isinstance(obj, dict) and not xsd_element.type.is_simple():
            index = _key_index(xsd_element.type)
            moved = {}
            for key, value in obj.items():
                kind = index.get(key.lower(), ("child",))[0]
                if kind == "attribute":
                    moved[f"@{key}"] = value
                elif kind == "text":
                    moved["$"] = value
                else:
                    moved[key] = value
            obj = moved
        return super().element_encode(obj, xsd_element, level)


_QNAME = re.compile(r"\{[^}]*\}")
_EXPECTED = re.compile(r"Tag \(?'([^)]*?)'\)? expected")


def _from_xmlschema(error: Any, root: Any, element: str, direction: str) -> Violation:
    reason = _QNAME.sub("", str(getattr(error, "reason", None) or error)).strip()
    path = _json_path(getattr(error, "elem", None), root, element)
    if "is not complete" in reason or "missing required" in reason:
        expected = _EXPECTED.search(reason)
        if expected:
            names = [n.strip().strip("'") for n in expected.group(1).split("|")]
            reason = f"{' or '.join(names)} is required here"
        return Violation(direction, element, path, "missing", reason)
    return Violation(direction, element, path, "value", reason)


def _json_path(elem: Any, root: Any, element: str) -> str:
    if elem is None or root is None:
        return element
    parents = {child: parent for parent in root.iter() for child in parent}
    parts = []
    node = elem
    while node is not None and node is not root:
        parent = parents.get(node)
        name = _QNAME.sub("", node.tag)
        if parent is not None:
            same = [c for c in parent if c.tag == node.tag]
            if len(same) > 1:
                name = f"{name}[{same.index(node)}]"
        parts.append(name)
        node = parent
    return ".".join([element, *reversed(parts)])
