"""OpenAPI descriptions loaded once per process, and the checks of one exchange.

A `Contract` is one OpenAPI 3.0 or 3.1 document: a publisher's (`../shared/specs`, found
through `BULWARK_SPECS_DIR` or beside the checkout) or, for a service that publishes
none, ours, written from its documentation (`house/`). On load the allowlist's patches
are applied, the document is converted once into JSON Schema 2020-12 for each direction
(OpenAPI 3.0's `nullable`, and `readOnly`/`writeOnly` properties that are `required` only
one way) and registered with jsonschema-rs; a validator per schema location is compiled
on first use and kept. Checking a 1,000-element reply takes about a millisecond.

`check_request` finds the operation and checks its parameters (required, type, enum,
format), its `Content-Type` and its body; `check_response` checks the status is
declared, the declared headers, the media type and the body. An undeclared 4xx/5xx is
checked against the service's own error shapes (`house/errors.yaml`), since OpenAPI does
not expect every error status to be listed. Each problem is a `Violation` naming the spec
location it breaks; the allowlist decides which of those are known spec defects.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import jsonschema_rs
import yaml

HERE = Path(__file__).resolve().parent
HOUSE = HERE / "house"
SPECS_ENV = "BULWARK_SPECS_DIR"

# Contract name -> (published or house, file). Versions are read from the documents.
SOURCES: dict[str, tuple[str, str]] = {
    "wise": ("published", "wise/wise-platform-openapi.yml"),
    "xero-accounting": ("published", "xero/xero_accounting.yaml"),
    "xero-identity": ("published", "xero/xero-identity.yaml"),
    "xero-oauth": ("house", "xero-oauth.yaml"),
    "ecb": ("house", "ecb.yaml"),
    "treasury": ("house", "treasury.yaml"),
}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# Parameters OpenAPI says are ignored when described (RFC 9110 handles them).
IGNORED_HEADERS = {"accept", "content-type", "authorization"}


class SpecMissing(RuntimeError):
    """A published description is not where the checkout expects it."""


@dataclass(frozen=True)
class Violation:
    """One way an exchange breaks its contract."""

    contract: str
    operation: str
    direction: str  # request | response | spec
    message: str
    where: str = ""  # the part of the exchange: "query.types", "body/BankTransactions/0/Date"
    location: str = ""  # the spec location broken: "#/components/schemas/Account/..."
    refuse: bool = True  # False: drift the real service would not refuse (unknown query)

    def __str__(self) -> str:
        where = f" at {self.where}" if self.where else ""
        return f"{self.contract} {self.operation} {self.direction}{where}: {self.message}"


PUBLISHED = HERE / "published"


def specs_dir() -> Path | None:
    """Where the publishers' descriptions are: `$BULWARK_SPECS_DIR`, else the copies kept
    in the repository (`published/`, the same files as the workspace's `shared/specs`)."""
    configured = os.environ.get(SPECS_ENV)
    candidates = [Path(configured)] if configured else []
    candidates.append(PUBLISHED)
    return next((c for c in candidates if (c / "xero").is_dir()), None)


def shared_specs_dir() -> Path | None:
    """The workspace's `shared/specs` beside the checkout (or a worktree one level further
    down), which the copies in `published/` must equal; None in a clone elsewhere."""
    root = HERE.parents[1]
    candidates = [root.parent / "shared" / "specs", root.parent.parent / "shared" / "specs"]
    return next((c for c in candidates if (c / "xero").is_dir()), None)


def _pointer_escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def pointer(*parts: str | int) -> str:
    return "#/" + "/".join(_pointer_escape(str(p)) for p in parts)


def resolve_pointer(document: Any, location: str) -> Any:
    node = document
    for raw in location.lstrip("#").strip("/").split("/") if location.strip("#/") else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


# --- conversion to JSON Schema 2020-12 -----------------------------------------------

_DROP = {"example", "examples", "description", "externalDocs", "discriminator", "xml", "title"}


def _convert(node: Any, version: str, direction: str) -> Any:
    """OpenAPI schema (3.0 or 3.1) -> JSON Schema 2020-12 for one direction."""
    if isinstance(node, list):
        return [_convert(item, version, direction) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node and version.startswith("3.0"):
        return {"$ref": node["$ref"]}  # 3.0: siblings of $ref are ignored
    out = {
        key: _convert(value, version, direction)
        for key, value in node.items()
        if key not in _DROP and not key.startswith("x-")
    }
    if version.startswith("3.0"):
        for bound in ("Minimum", "Maximum"):
            flag = out.pop(f"exclusive{bound}", None)
            if flag is True and bound.lower() in out:
                out[f"exclusive{bound}"] = out.pop(bound.lower())
        if out.pop("nullable", False):
            if isinstance(out.get("type"), str):
                out["type"] = [out["type"], "null"]
                if "enum" in out:
                    out["enum"] = [*out["enum"], None]
            elif "type" not in out:
                out = {"anyOf": [out, {"type": "null"}]}
    properties = node.get("properties")
    if isinstance(out.get("required"), list) and isinstance(properties, dict):
        hidden = "readOnly" if direction == "request" else "writeOnly"
        out["required"] = [
            name
            for name in out["required"]
            if not (isinstance(properties.get(name), dict) and properties[name].get(hidden))
        ]
    return out


def _jsonable(value: Any) -> Any:
    """YAML gives dates and datetimes for some examples; JSON Schema wants JSON."""
    return json.loads(json.dumps(value, default=str))


# OpenAPI's own formats, beyond JSON Schema's: annotations only.
FORMATS = {
    name: (lambda value: True)
    for name in ("int32", "int64", "float", "double", "byte", "binary", "password", "decimal")
}


# --- one operation ---------------------------------------------------------------------


@dataclass
class Parameter:
    name: str
    where: str  # query | header | path | cookie
    required: bool
    schema: dict[str, Any]
    schema_location: str
    location: str


@dataclass
class Operation:
    contract: Contract
    method: str
    template: str
    location: str
    spec: dict[str, Any]
    parameters: list[Parameter]
    regex: re.Pattern[str] = field(repr=False, default=re.compile(""))

    @property
    def id(self) -> str:
        return str(self.spec.get("operationId") or f"{self.method} {self.template}")

    @property
    def label(self) -> str:
        return f"{self.method} {self.template}"


def _group(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _template_regex(template: str, *, case_insensitive: bool) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    regex = "".join(
        f"(?P<{_group(p[1:-1])}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts
    )
    return re.compile(f"^{regex}/?$", re.IGNORECASE if case_insensitive else 0)


# --- the contract ----------------------------------------------------------------------


class Contract:
    """One loaded description and the validators compiled from it."""

    def __init__(self, name: str, kind: str, path: Path, document: dict[str, Any]) -> None:
        from simulators.contracts.allowlist import allowlist

        self.name, self.kind, self.path = name, kind, path
        self.patches = allowlist().patch(name, document)
        self.document = document
        self.version = str(document.get("openapi", "3.0"))
        info = document.get("info") or {}
        self.title = str(info.get("title") or name)
        self.api_version = str(info.get("version") or "")
        servers = document.get("servers") or [{"url": ""}]
        self.base = urlsplit(str(servers[0].get("url") or "")).path.rstrip("/")
        self.case_insensitive = bool(document.get("x-bulwark-case-insensitive-paths"))
        self.operations = self._operations()
        plain = _jsonable(document)
        self._uris = {d: f"urn:bulwark:{name}:{d}" for d in ("request", "response")}
        self._registry = jsonschema_rs.Registry(
            [(self._uris[d], _convert(plain, self.version, d)) for d in self._uris]
        )
        self._validators: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.findings = lint(self)

    # --- operations --------------------------------------------------------------------

    def _resolve(self, node: Any) -> tuple[Any, str | None]:
        if isinstance(node, dict) and "$ref" in node and str(node["$ref"]).startswith("#/"):
            return resolve_pointer(self.document, node["$ref"]), node["$ref"]
        return node, None

    def _parameters(self, raw: Iterable[Any], base: str) -> dict[tuple[str, str], Parameter]:
        found = {}
        for index, item in enumerate(raw or []):
            param, ref = self._resolve(item)
            location = ref or f"{base}/parameters/{index}"
            found[(param["in"], param["name"].lower())] = Parameter(
                name=param["name"],
                where=param["in"],
                required=bool(param.get("required")) or param["in"] == "path",
                schema=param.get("schema") or {},
                schema_location=f"{location}/schema",
                location=location,
            )
        return found

    def _operations(self) -> list[Operation]:
        operations = []
        for template, item in (self.document.get("paths") or {}).items():
            base = pointer("paths", template)
            shared = self._parameters(item.get("parameters"), base)
            for method in METHODS:
                spec = item.get(method)
                if not isinstance(spec, dict):
                    continue
                own = self._parameters(spec.get("parameters"), f"{base}/{method}")
                operation = Operation(
                    contract=self,
                    method=method.upper(),
                    template=template,
                    location=f"{base}/{method}",
                    spec=spec,
                    parameters=list({**shared, **own}.values()),
                    regex=_template_regex(template, case_insensitive=self.case_insensitive),
                )
                operations.append(operation)
        # Literal segments before templated ones: `/v2/profiles/personal-profile` is not
        # `/v2/profiles/{profileId}`.
        operations.sort(key=lambda o: (o.template.count("{"), -len(o.template)))
        return operations

    def relative(self, path: str) -> str | None:
        """The path below the server's base path, or None when it is not this API's."""
        if not self.base:
            return path
        folded, base = (
            (path.lower(), self.base.lower()) if self.case_insensitive else (path, self.base)
        )
        if folded == base or folded.startswith(base + "/"):
            return path[len(self.base) :] or "/"
        return None

    def match(self, method: str, path: str) -> tuple[Operation | None, dict[str, str], bool]:
        """(operation, path parameters, whether any operation has this path)."""
        relative = self.relative(path)
        if relative is None:
            return None, {}, False
        method = "GET" if method == "HEAD" else method
        path_known = False
        for operation in self.operations:
            found = operation.regex.match(relative)
            if found:
                path_known = True
                if operation.method == method:
                    return operation, found.groupdict(), True
        return None, {}, path_known

    # --- validators --------------------------------------------------------------------

    def validator(self, location: str, direction: str) -> Any:
        key = (location, direction)
        with self._lock:
            if key not in self._validators:
                fragment = quote(location, safe="#/~-_.!$&'()*+,;=:@")
                self._validators[key] = jsonschema_rs.validator_for(
                    {"$ref": f"{self._uris[direction]}{fragment}"},
                    registry=self._registry,
                    validate_formats=True,
                    formats=FORMATS,
                )
            return self._validators[key]

    def schema_violations(
        self, operation: str, direction: str, location: str, value: Any, where: str
    ) -> list[Violation]:
        errors = self.validator(location, direction).iter_errors(value)
        return [
            Violation(
                self.name,
                operation,
                direction,
                error.message,
                where="/".join([where, *map(str, error.instance_path)]),
                location="#" + str(error.absolute_keyword_location or "").split("#", 1)[-1],
            )
            for error in errors
        ]

    # --- an exchange ---------------------------------------------------------------------

    def check_request(
        self,
        operation: Operation,
        path_params: Mapping[str, str],
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> list[Violation]:
        violations: list[Violation] = []
        declared = {(p.where, p.name.lower()) for p in operation.parameters}
        for parameter in operation.parameters:
            violations += self._parameter(operation, parameter, path_params, query, headers)
        for name in query:
            if ("query", name.lower()) not in declared:
                violations.append(
                    Violation(
                        self.name,
                        operation.id,
                        "request",
                        f"{name!r} is not a parameter of {operation.label}",
                        where=f"query.{name}",
                        location=operation.location,
                        refuse=False,
                    )
                )
        violations += self._request_body(operation, headers, body)
        return violations

    def _parameter(
        self,
        operation: Operation,
        parameter: Parameter,
        path_params: Mapping[str, str],
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
    ) -> list[Violation]:
        if parameter.where == "cookie" or (
            parameter.where == "header" and parameter.name.lower() in IGNORED_HEADERS
        ):
            return []
        where = f"{parameter.where}.{parameter.name}"
        if parameter.where == "query":
            values = next((v for k, v in query.items() if k == parameter.name), None)
            raw = values[-1] if values else None
        elif parameter.where == "header":
            raw = headers.get(parameter.name.lower())
        else:
            raw = path_params.get(_group(parameter.name))
        if raw is None:
            if not parameter.required:
                return []
            return [
                Violation(
                    self.name,
                    operation.id,
                    "request",
                    f"the required {parameter.where} parameter {parameter.name!r} is missing",
                    where=where,
                    location=f"{parameter.location}/required",
                )
            ]
        value, problem = coerce(raw, parameter.schema)
        if problem:
            return [
                Violation(
                    self.name,
                    operation.id,
                    "request",
                    problem,
                    where=where,
                    location=f"{parameter.schema_location}/type",
                )
            ]
        return self.schema_violations(
            operation.id, "request", parameter.schema_location, value, where
        )

    def _request_body(
        self, operation: Operation, headers: Mapping[str, str], body: bytes
    ) -> list[Violation]:
        spec, ref = self._resolve(operation.spec.get("requestBody"))
        if not spec:
            return []
        location = ref or f"{operation.location}/requestBody"
        content = spec.get("content") or {}
        if not body:
            if spec.get("required"):
                return [
                    Violation(
                        self.name,
                        operation.id,
                        "request",
                        "the request body is missing",
                        where="body",
                        location=f"{location}/required",
                    )
                ]
            return []
        media = media_type(headers.get("content-type"))
        declared = media_match(media, content)
        if declared is None:
            said = f"Content-Type {media!r}" if media else "no Content-Type"
            return [
                Violation(
                    self.name,
                    operation.id,
                    "request",
                    f"{said}; {operation.label} takes {', '.join(content)}",
                    where="header.Content-Type",
                    location=f"{location}/content",
                )
            ]
        return self._body(operation, "request", f"{location}/content", declared, content, body)

    def _body(
        self,
        operation: Operation,
        direction: str,
        content_location: str,
        declared: str,
        content: Mapping[str, Any],
        body: bytes,
    ) -> list[Violation]:
        value, problem = parse_body(declared, body)
        here = f"{content_location}/{_pointer_escape(declared)}"
        if problem:
            return [
                Violation(self.name, operation.id, direction, problem, where="body", location=here)
            ]
        media = content.get(declared) or {}
        check = media.get("x-bulwark-check")
        if check:
            from simulators.contracts.shapes import CHECKS

            return [
                Violation(
                    self.name,
                    operation.id,
                    direction,
                    message,
                    where="body",
                    location=f"{here}/x-bulwark-check",
                )
                for message in CHECKS[check](body)
            ]
        if "schema" not in media:
            return []
        return self.schema_violations(operation.id, direction, f"{here}/schema", value, "body")

    def check_response(
        self, operation: Operation, status: int, headers: Mapping[str, str], body: bytes
    ) -> list[Violation]:
        responses = operation.spec.get("responses") or {}
        key = next(
            (k for k in (str(status), f"{str(status)[0]}XX", "default") if k in responses), None
        )
        if key is None:
            if status >= 400:
                return error_shape_violations(self, operation, status, headers, body)
            return [
                Violation(
                    self.name,
                    operation.id,
                    "response",
                    f"status {status} is not a declared response of {operation.label}",
                    where="status",
                    location=f"{operation.location}/responses",
                )
            ]
        spec, ref = self._resolve(responses[key])
        location = ref or f"{operation.location}/responses/{_pointer_escape(key)}"
        violations = self._response_headers(operation, spec, location, headers)
        content = spec.get("content") or {}
        if not content:
            if body and status >= 400:
                return violations + error_shape_violations(self, operation, status, headers, body)
            if body:
                violations.append(
                    Violation(
                        self.name,
                        operation.id,
                        "response",
                        f"{status} declares no body, yet one was sent",
                        where="body",
                        location=location,
                    )
                )
            return violations
        media = media_type(headers.get("content-type"))
        declared = media_match(media, content)
        if declared is None:
            violations.append(
                Violation(
                    self.name,
                    operation.id,
                    "response",
                    f"Content-Type {media!r} is not one of {', '.join(content)}",
                    where="header.Content-Type",
                    location=f"{location}/content",
                )
            )
            return violations
        return violations + self._body(
            operation, "response", f"{location}/content", declared, content, body
        )

    def _response_headers(
        self,
        operation: Operation,
        spec: Mapping[str, Any],
        location: str,
        headers: Mapping[str, str],
    ) -> list[Violation]:
        violations = []
        for name, raw in (spec.get("headers") or {}).items():
            header, ref = self._resolve(raw)
            here = ref or f"{location}/headers/{_pointer_escape(name)}"
            value = headers.get(name.lower())
            if value is None:
                if header.get("required"):
                    violations.append(
                        Violation(
                            self.name,
                            operation.id,
                            "response",
                            f"the required header {name!r} is missing",
                            where=f"header.{name}",
                            location=f"{here}/required",
                        )
                    )
                continue
            if "schema" in header:
                typed, problem = coerce(value, header["schema"])
                if problem:
                    violations.append(
                        Violation(
                            self.name,
                            operation.id,
                            "response",
                            problem,
                            where=f"header.{name}",
                            location=f"{here}/schema",
                        )
                    )
                else:
                    violations += self.schema_violations(
                        operation.id, "response", f"{here}/schema", typed, f"header.{name}"
                    )
        return violations


# --- wire helpers --------------------------------------------------------------------------


def media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def media_match(media: str, content: Mapping[str, Any]) -> str | None:
    """The declared media type that `media` satisfies (exact, `type/*` or `*/*`)."""
    if not media:
        return None
    for declared in content:
        if declared.lower() == media:
            return declared
    major = media.split("/", 1)[0]
    for declared in content:
        if declared.lower() in (f"{major}/*", "*/*"):
            return declared
    return None


def parse_body(media: str, body: bytes) -> tuple[Any, str]:
    """(value to validate, problem). JSON is parsed with plain floats: validation looks at
    types and shapes, never at amounts."""
    lowered = media.lower()
    if lowered == "application/json" or lowered.endswith("+json"):
        try:
            return json.loads(body), ""
        except ValueError as exc:
            return None, f"the body is not JSON ({exc})"
    if lowered == "application/x-www-form-urlencoded":
        try:
            text = body.decode()
        except UnicodeDecodeError:
            return None, "the form body is not UTF-8"
        return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}, ""
    if lowered.startswith("text/") or lowered.endswith(("/xml", "+xml")):
        try:
            return body.decode(), ""
        except UnicodeDecodeError:
            return None, "the body is not UTF-8 text"
    # Anything else (application/octet-stream, application/pdf) is the file's bytes, which
    # OpenAPI describes as a string (format binary or byte): one character per byte, so a
    # string schema holds and any other fails, as it should.
    return body.decode("latin-1"), ""


_INTEGER = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def coerce(raw: str, schema: Mapping[str, Any]) -> tuple[Any, str]:
    """A parameter's text as the type its schema names, or the problem (OpenAPI's
    simple/form styles, comma-separated arrays)."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "array" in kinds:
        items = schema.get("items") or {}
        values = []
        for part in raw.split(",") if raw else []:
            value, problem = coerce(part, items)
            if problem:
                return None, problem
            values.append(value)
        return values, ""
    if "integer" in kinds:
        if _INTEGER.match(raw.strip()):
            return int(raw), ""
        return None, f"{raw!r} is not an integer"
    if "number" in kinds:
        if _NUMBER.match(raw.strip()):
            return float(raw), ""
        return None, f"{raw!r} is not a number"
    if "boolean" in kinds:
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true", ""
        return None, f"{raw!r} is not true or false"
    return raw, ""


# --- error shapes and lint -------------------------------------------------------------------


@cache
def _error_shapes() -> dict[str, Any]:
    with open(HOUSE / "errors.yaml", "rb") as handle:
        return yaml.load(handle, Loader=yaml.CSafeLoader)


def error_shape_violations(
    contract: Contract,
    operation: Operation,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
) -> list[Violation]:
    """An error status the operation does not declare, against the service's own error
    bodies (`house/errors.yaml`, from its documentation)."""
    shapes = (_error_shapes().get("contracts") or {}).get(contract.name) or {}
    location = f"errors.yaml#/contracts/{contract.name}"
    if not body:
        return []
    media = media_type(headers.get("content-type"))
    declared = media_match(media, shapes)
    if declared is None:
        return [
            Violation(
                contract.name,
                operation.id,
                "response",
                f"an undeclared {status} with Content-Type {media!r}, which is none of "
                f"the service's error bodies ({', '.join(shapes) or 'none known'})",
                where="header.Content-Type",
                location=location,
            )
        ]
    value, problem = parse_body(declared, body)
    if problem:
        return [Violation(contract.name, operation.id, "response", problem, "body", location)]
    check = (shapes[declared] or {}).get("x-bulwark-check")
    if check:
        from simulators.contracts.shapes import CHECKS

        return [
            Violation(contract.name, operation.id, "response", message, "body", location)
            for message in CHECKS[check](body)
        ]
    errors = _error_validator(contract.name, declared).iter_errors(value)
    return [
        Violation(
            contract.name,
            operation.id,
            "response",
            f"not one of the service's error bodies: {error.message}",
            where="/".join(["body", *map(str, error.instance_path)]),
            location=location,
        )
        for error in errors
    ]


@cache
def _error_validator(name: str, media: str) -> Any:
    schema = _error_shapes()["contracts"][name][media]["schema"]
    return jsonschema_rs.validator_for(_convert(schema, "3.1", "response"))


_TYPE_CHECKS = {
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def lint(contract: Contract) -> list[Violation]:
    """Defects of the description itself: a `default` or `enum` value of another type
    than its schema's (for example booleans whose default is the string "false")."""
    findings: list[Violation] = []

    def walk(node: Any, location: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{location}/{index}")
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        check = _TYPE_CHECKS.get(kind) if isinstance(kind, str) else None
        nullable = bool(node.get("nullable"))
        if check is not None:
            default = node.get("default", ...)
            if default is not ... and not (check(default) or (nullable and default is None)):
                findings.append(
                    Violation(
                        contract.name,
                        "",
                        "spec",
                        f"default {node['default']!r} is not a {kind}",
                        location=f"{location}/default",
                    )
                )
            for index, value in enumerate(node.get("enum") or []):
                if not (check(value) or (value is None and nullable)):
                    findings.append(
                        Violation(
                            contract.name,
                            "",
                            "spec",
                            f"enum value {value!r} is not a {kind}",
                            location=f"{location}/enum/{index}",
                        )
                    )
        for key, value in node.items():
            if key not in ("example", "examples") and not key.startswith("x-"):
                walk(value, f"{location}/{_pointer_escape(str(key))}")

    walk(contract.document.get("paths"), "#/paths")
    walk(contract.document.get("components"), "#/components")
    return findings


# --- loading ---------------------------------------------------------------------------------

_contracts: dict[str, Contract] = {}
_loading = threading.Lock()


def contract(name: str) -> Contract:
    """The contract `name`, loaded on first use and kept for the process."""
    with _loading:
        if name not in _contracts:
            kind, relative = SOURCES[name]
            if kind == "house":
                path = HOUSE / relative
            else:
                directory = specs_dir()
                if directory is None:
                    raise SpecMissing(
                        f"The published API descriptions are not found (set {SPECS_ENV} to "
                        "the folder holding xero/ and wise/, e.g. ../shared/specs)"
                    )
                path = directory / relative
            with open(path, "rb") as handle:
                document = yaml.load(handle, Loader=yaml.CSafeLoader)
            loaded = _contracts[name] = Contract(name, kind, path, document)
            _findings_log(loaded)
        return _contracts[name]


def _findings_log(loaded: Contract) -> None:
    """The description's own defects: allowlisted, or violations of the run."""
    from simulators.contracts.allowlist import allowlist
    from simulators.contracts.log import LOG

    allowed, left = list(loaded.patches), []
    for finding in loaded.findings:
        entry = allowlist().allows(finding)
        (left.append(finding) if entry is None else allowed.append(entry.id))
    LOG.spec_findings(left, allowed)


@cache
def available() -> bool:
    """Whether the publishers' descriptions are here (looked for once per process)."""
    found = specs_dir() is not None
    if not found:
        logging.getLogger("bulwark.contracts").warning(
            "API descriptions not found (set %s): simulator exchanges are not checked",
            SPECS_ENV,
        )
    return found
