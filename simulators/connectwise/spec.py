"""ConnectWise PSA's published contract, read once from the extract, and the checks on it.

`connectwise-psa.md` (beside this module) is a copy of ../shared/specs/connectwise: the
operations and models Bulwark needs, extracted from the OpenAPI description of ConnectWise
Manage 2025.1. It is parsed once at import into `OPERATIONS` (method, path template) and
`MODELS` (field → type, nullability, maximum length, required on create or on update).

Two functions check traffic against it, one per direction, on the raw `SimRequest` and
`SimResponse`, so a suite-wide contract guard can call them as they are:

- `request_violations(request)`: the operation must be in the contract; its JSON body must
  be of the operation's model: no unknown fields, every value of its field's type, no null
  where the type is not nullable, within its maximum length, the fields the contract marks
  required present on create (POST) and on replace (PUT, "Required On Updates"), nothing
  read-only set; a PATCH body must be ConnectWise's `[{op, path, value}]` on real,
  writable fields.
- `response_violations(request, response)`: the body the simulator is about to send must
  be of the operation's model too (no unknown fields, types, nullability), and an error
  body must be ConnectWise's error shape (`code`, `message`, `errors[]`).

Where the extract is silent, `SUPPLEMENT` says what is added and from where. The real
service ignores read-only fields and (being .NET) unknown ones; the simulator refuses
them, so a client that believes it can set them is caught here rather than in production.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).with_name("connectwise-psa.md")
API_PREFIX = re.compile(r"^/(?P<codebase>[A-Za-z0-9_.]+)/apis/3\.0(?P<path>/.*)$")
INT32 = (-(2**31), 2**31 - 1)
# time.Time as ConnectWise writes it (UTC, whole seconds, `Z`); requests may also carry a
# fraction or an offset, which ConnectWise's ISO 8601 parser accepts.
_TIME_OUT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_TIME_IN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # int, float, string, bool, time, map, any, list, object
    nullable: bool = False
    model: str = ""  # the model of an object, or of a list's items
    item: str = ""  # a list's scalar item kind
    max_length: int | None = None
    required: bool = False  # on create
    required_on_update: bool = False


@dataclass(frozen=True)
class Violation:
    field: str
    code: str
    message: str

    def as_error(self, resource: str) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "resource": resource,
            "field": self.field,
        }


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str] = field(compare=False)
    model: str  # the resource's model ("" when the contract names none)
    shape: str  # "list", "one", "count", "none"


# --- what the extract does not say ------------------------------------------------------
# The extract has the ProductItem model but not its endpoint; invoice lines are read from
# `/procurement/products?conditions=invoice/id=N` as connectwise-etl does (reference,
# operations-books-archive.md). The Currency model behind `/finance/currencies` is not in
# the extract: FinanceCurrency below is the same generated client's model (ai-connor/
# connectwise build/docs/FinanceCurrency.md, version 2025.1).
SUPPLEMENT_OPERATIONS = [
    ("GET", "/procurement/products"),
    ("GET", "/procurement/products/{id}"),
    ("GET", "/procurement/products/count"),
]
SUPPLEMENT_MODELS_MD = """
### FinanceCurrency

| field | type | notes |
|---|---|---|
| `id` | int32 |  |
| `currencyIdentifier` | string | Max length: 10; (required) |
| `name` | string | Max length: 50; (required) |
| `symbol` | string | Max length: 10; |
| `displayIdFlag` | ?Bool |  |
| `displaySymbolFlag` | ?Bool |  |
| `currencyCode` | CurrencyCodeReference |  |
| `thousandsSeparator` | string | Max length: 1; |
| `decimalSeparator` | string | Max length: 1; |
| `negativeParenthesesFlag` | ?Bool |  |
| `rightAlign` | ?Bool |  |
| `numberOfDecimals` | ?Int32 |  |
| `reportFormat` | string |  |
| `_info` | map[string]string |  |

### Count

| field | type | notes |
|---|---|---|
| `count` | int32 |  |

### ErrorResponse

| field | type | notes |
|---|---|---|
| `code` | string |  |
| `message` | string |  |
| `errors` | ?[]ErrorDetail |  |

### ErrorDetail

| field | type | notes |
|---|---|---|
| `code` | string |  |
| `message` | string |  |
| `resource` | string |  |
| `field` | string |  |
"""
# The 2018.4 InvoicePayment model marked `amount` required (spinen/connectwise-php-client,
# reference); the 2025.1 extract marks nothing. A payment without an amount is meaningless.
SUPPLEMENT_REQUIRED = {"InvoicePayment": {"amount"}}
# Fields ConnectWise computes or assigns: never accepted in a request body.
READ_ONLY = {
    "*": {"id", "_info"},
    "Invoice": {
        "serviceTotal", "expenseTotal", "productTotal", "agreementAmount", "subtotal",
        "total", "salesTax", "payments", "credits", "balance", "remainingDownpayment",
        "previousProgressApplied", "downpaymentApplied", "adjustedBy", "closedBy",
        "accountNumber", "glBatch", "unbatchedBatch", "billingSetupReference",
    },
    "InvoicePayment": {
        "invoice", "balance", "invoiceBalance", "invoiceTotal", "appliedBy",
        "paymentSyncStatus", "paymentSyncDate", "wisePayPayment", "glBatchID",
    },
    "CallbackEntry": {"memberId", "connectWiseID", "isSoapCallbackFlag"},
}  # fmt: skip
# The path prefixes of the contract's resources, and their models.
RESOURCES = {
    "/finance/invoices": "Invoice",
    "/finance/invoices/{parentId}/payments": "InvoicePayment",
    "/finance/closedInvoices": "ClosedInvoice",
    "/company/companies": "Company",
    "/company/companies/info": "CompanyInfo",
    "/company/contacts": "Contact",
    "/system/callbacks": "CallbackEntry",
    "/finance/taxCodes": "TaxCode",
    "/finance/currencies": "FinanceCurrency",
    "/finance/info/currencyCodes": "CurrencyCode",
    "/finance/billingTerms": "BillingTerm",
    "/finance/accounting/batches": "AccountingBatch",
    "/finance/accounting/unpostedinvoices": "UnpostedInvoice",
    "/time/entries": "TimeEntry",
    "/expense/entries": "ExpenseEntry",
    "/procurement/products": "ProductItem",
}
# The extract: "`XReference` is an object {id, name, identifier, _info}" for references it
# does not spell out.
GENERIC_REFERENCE = {
    "id": FieldSpec("id", "int", nullable=True),
    "name": FieldSpec("name", "string"),
    "identifier": FieldSpec("identifier", "string"),
    "_info": FieldSpec("_info", "map"),
}
PATCH_OPS = {"add", "replace", "remove"}


# --- parsing the extract ------------------------------------------------------------------

_ROW = re.compile(r"^\|\s*`(?P<name>[^`]+)`\s*\|\s*(?P<type>[^|]+?)\s*\|\s*(?P<notes>[^|]*)\|")
_OP_ROW = re.compile(r"^\|\s*(?P<method>GET|POST|PUT|PATCH|DELETE)\s*\|\s*`(?P<path>[^`]+)`")
_MAX = re.compile(r"Max length:\s*(\d+)")
_SCALARS = {
    "int32": "int",
    "int": "int",
    "float64": "float",
    "string": "string",
    "bool": "bool",
    "time.time": "time",
    "interface{}": "any",
}


def _field(name: str, type_text: str, notes: str) -> FieldSpec:
    text = type_text.strip()
    nullable = text.startswith("?")
    text = text.lstrip("?")
    max_match = _MAX.search(notes)
    common = {
        "nullable": nullable,
        "max_length": int(max_match.group(1)) if max_match else None,
        "required": "(required)" in notes,
        "required_on_update": "Required On Updates" in notes,
    }
    if text.startswith("map["):
        return FieldSpec(name, "map" if text == "map[string]string" else "any", **common)
    if text.startswith("[]"):
        inner = text[2:]
        scalar = _SCALARS.get(inner.lower())
        if scalar:
            return FieldSpec(name, "list", item=scalar, **common)
        return FieldSpec(name, "list", model=inner, **common)
    scalar = _SCALARS.get(text.lower())
    if scalar:
        return FieldSpec(name, scalar, **common)
    return FieldSpec(name, "object", model=text, **common)


def parse_models(text: str) -> dict[str, dict[str, FieldSpec]]:
    models: dict[str, dict[str, FieldSpec]] = {}
    current: dict[str, FieldSpec] | None = None
    for line in text.splitlines():
        if line.startswith("### "):
            current = models.setdefault(line[4:].strip(), {})
            continue
        match = _ROW.match(line)
        if match and current is not None:
            spec = _field(match["name"], match["type"], match["notes"])
            current[spec.name] = spec
    return models


def _template_pattern(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{regex}$")


def _operation(method: str, template: str) -> Operation:
    shape = "none" if method == "DELETE" else "one"
    if template.endswith("/count"):
        return Operation(method, template, _template_pattern(template), "Count", "count")
    base = template.removesuffix("/{id}")
    model = RESOURCES.get(base, "")
    if method == "GET" and base == template:
        shape = "list"
    elif base == template and method != "POST":
        model = ""  # an action on a collection (merge, copy, export): not modelled
    if method == "GET" and template.endswith(("/pdf", "/image", "/usages", "/usages/list")):
        model, shape = "", "none"
    return Operation(method, template, _template_pattern(template), model, shape)


def parse_operations(text: str) -> list[Operation]:
    operations = [
        _operation(match["method"], match["path"])
        for match in (_OP_ROW.match(line) for line in text.splitlines())
        if match
    ]
    operations += [_operation(method, path) for method, path in SUPPLEMENT_OPERATIONS]
    # Literal segments before parameters: `/finance/invoices/count` is not `{id}="count"`.
    return sorted(operations, key=lambda op: (op.template.count("{"), -len(op.template)))


@cache
def contract() -> tuple[dict[str, dict[str, FieldSpec]], list[Operation]]:
    text = SPEC_PATH.read_text()
    models = parse_models(text)
    models.update(parse_models(SUPPLEMENT_MODELS_MD))
    for model_name, names in SUPPLEMENT_REQUIRED.items():
        for name in names:
            spec = models[model_name][name]
            models[model_name][name] = FieldSpec(**{**spec.__dict__, "required": True})
    return models, parse_operations(text)


def operation_for(method: str, api_path: str) -> tuple[Operation | None, dict[str, str]]:
    """The contract's operation for `api_path` (the path after `/{codebase}/apis/3.0`)."""
    for operation in contract()[1]:
        if operation.method != method:
            continue
        match = operation.pattern.match(api_path)
        if match:
            return operation, match.groupdict()
    return None, {}


def resource_name(model: str) -> str:
    """ConnectWise's `resource` in an error: the model's name in lower camel case."""
    return model[:1].lower() + model[1:]


# --- checking values against the model ----------------------------------------------------


def _fields_of(model: str) -> dict[str, FieldSpec] | None:
    models = contract()[0]
    if model in models:
        return models[model]
    if model.endswith("Reference"):
        return GENERIC_REFERENCE
    return None  # a type the extract does not describe: any object passes


def _type_problem(spec: FieldSpec, value: Any, *, incoming: bool) -> str | None:
    kind = spec.kind
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return "a whole number"
        return None if INT32[0] <= value <= INT32[1] else "within the 32-bit range"
    if kind == "float":
        ok = isinstance(value, (int, Decimal)) and not isinstance(value, bool)
        return None if ok else "a number"
    if kind == "string":
        return None if isinstance(value, str) else "a string"
    if kind == "bool":
        return None if isinstance(value, bool) else "true or false"
    if kind == "time":
        pattern = _TIME_IN if incoming else _TIME_OUT
        if not isinstance(value, str) or not pattern.match(value):
            return "an ISO 8601 date and time such as 2025-01-31T00:00:00Z"
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return "a real date and time"
        return None
    if kind == "map":
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        return None if ok else "an object of strings"
    if kind == "list":
        return None if isinstance(value, list) else "a list"
    if kind == "object":
        return None if isinstance(value, dict) else "an object"
    return None  # any


def check_value(
    spec: FieldSpec, value: Any, where: str, *, incoming: bool, out: list[Violation]
) -> None:
    if value is None:
        if not spec.nullable:
            out.append(Violation(where, "NullValue", f"The field {where} may not be null."))
        return
    problem = _type_problem(spec, value, incoming=incoming)
    if problem:
        out.append(Violation(where, "InvalidField", f"The field {where} must be {problem}."))
        return
    if spec.kind == "string" and incoming and spec.max_length and len(value) > spec.max_length:
        out.append(
            Violation(
                where,
                "MaxLengthField",
                f"The field {where} must be a string with a maximum length of {spec.max_length}.",
            )
        )
    if spec.kind == "object":
        check_object(spec.model, value, where, incoming=incoming, out=out)
    elif spec.kind == "list":
        item = FieldSpec(spec.name, spec.item or "object", model=spec.model)
        for index, element in enumerate(value):
            check_value(item, element, f"{where}[{index}]", incoming=incoming, out=out)


def check_object(
    model: str, value: dict[str, Any], prefix: str, *, incoming: bool, out: list[Violation]
) -> None:
    fields = _fields_of(model)
    if fields is None:
        return
    for name, element in value.items():
        where = f"{prefix}/{name}" if prefix else name
        spec = fields.get(name)
        if spec is None:
            out.append(Violation(where, "InvalidField", f"{model} has no field {name}."))
            continue
        check_value(spec, element, where, incoming=incoming, out=out)


def body_violations(model: str, body: Any, *, mode: str) -> list[Violation]:
    """A request body for `model`: `mode` is create (POST), replace (PUT) or patch."""
    if mode == "patch":
        return _patch_violations(model, body)
    out: list[Violation] = []
    if not isinstance(body, dict):
        return [Violation("", "InvalidObject", f"The body must be a {model} object.")]
    check_object(model, body, "", incoming=True, out=out)
    fields = _fields_of(model) or {}
    read_only = READ_ONLY["*"] | READ_ONLY.get(model, set())
    for name in sorted(read_only & body.keys()):
        out.append(Violation(name, "ReadOnlyField", f"The field {name} is read only."))
    for name, spec in fields.items():
        needed = spec.required or (mode == "replace" and spec.required_on_update)
        if needed and body.get(name) in (None, ""):
            out.append(Violation(name, "NullValue", f"The {name} field is required."))
    return out


def _patch_violations(model: str, body: Any) -> list[Violation]:
    if not isinstance(body, list) or not body:
        return [Violation("", "InvalidObject", "A PATCH body is a list of {op, path, value}.")]
    fields = _fields_of(model) or {}
    read_only = READ_ONLY["*"] | READ_ONLY.get(model, set())
    out: list[Violation] = []
    for index, operation in enumerate(body):
        where = f"[{index}]"
        if not isinstance(operation, dict) or set(operation) - {"op", "path", "value"}:
            out.append(Violation(where, "InvalidObject", "Each operation is {op, path, value}."))
            continue
        if operation.get("op") not in PATCH_OPS:
            out.append(Violation(f"{where}/op", "InvalidField", "op is add, replace or remove."))
            continue
        # ConnectWise's dialect: a bare, case-sensitive field name (a leading "/" as JSON
        # Patch writes it is tolerated); a path into an object can answer a false 200 on
        # the real service, so it is refused here.
        path = str(operation.get("path") or "").removeprefix("/")
        spec = fields.get(path)
        if spec is None:
            out.append(Violation(path or where, "InvalidField", f"{model} has no field {path!r}."))
            continue
        if path in read_only:
            out.append(Violation(path, "ReadOnlyField", f"The field {path} is read only."))
            continue
        if operation["op"] != "remove":
            check_value(spec, operation.get("value"), path, incoming=True, out=out)
    return out


# --- the two directions -------------------------------------------------------------------


def _split(path: str) -> str | None:
    match = API_PREFIX.match(path)
    return match["path"] if match else None


def request_violations(request: Any) -> list[Violation]:
    """What in `request` (a SimRequest) breaks the contract; [] for non-API paths."""
    api_path = _split(request.path)
    if api_path is None:
        return []
    operation, _ = operation_for(request.method, api_path)
    if operation is None:
        return [Violation("", "NotFound", f"No operation {request.method} {api_path}.")]
    if request.method not in ("POST", "PUT", "PATCH") or not operation.model:
        return []
    try:
        body = json.loads(request.body or b"null", parse_float=Decimal)
    except ValueError:
        return [Violation("", "InvalidObject", "The body is not JSON.")]
    mode = {"POST": "create", "PUT": "replace", "PATCH": "patch"}[request.method]
    return body_violations(operation.model, body, mode=mode)


def response_violations(request: Any, response: Any) -> list[Violation]:
    """What in `response` (a SimResponse to `request`) breaks the contract."""
    api_path = _split(request.path)
    if api_path is None or not response.body:
        return []
    if "json" not in response.headers.get("Content-Type", ""):
        return []
    try:
        body = json.loads(response.body, parse_float=Decimal)
    except ValueError:
        return [Violation("", "InvalidObject", "The reply is not JSON.")]
    out: list[Violation] = []
    if response.status == 429:
        # The documented throttling body is {"error": "ConnectWiseAPI", "message": ...}.
        if not (isinstance(body, dict) and set(body) == {"error", "message"}):
            out.append(Violation("", "InvalidObject", "A 429 body is {error, message}."))
        return out
    if response.status >= 400:
        if not isinstance(body, dict):
            return [Violation("", "InvalidObject", "An error body is an object.")]
        check_object("ErrorResponse", body, "", incoming=False, out=out)
        return out
    operation, _ = operation_for(request.method, api_path)
    if operation is None or not operation.model:
        return out
    if operation.shape == "list":
        if not isinstance(body, list):
            return [Violation("", "InvalidObject", f"A list of {operation.model} is expected.")]
        for index, element in enumerate(body):
            if not isinstance(element, dict):
                out.append(Violation(f"[{index}]", "InvalidObject", "Each element is an object."))
            else:
                check_object(operation.model, element, f"[{index}]", incoming=False, out=out)
    elif isinstance(body, dict):
        check_object(operation.model, body, "", incoming=False, out=out)
    else:
        out.append(Violation("", "InvalidObject", f"A {operation.model} object is expected."))
    return out
