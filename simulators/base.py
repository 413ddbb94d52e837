"""The loopback HTTP server every simulator is built on.

A simulator is a real HTTP server on 127.0.0.1 (a free port unless one is asked for),
served from a background thread, so Bulwark's clients talk to it exactly as they talk to
the real service. Subclasses register routes; this base adds what every fake needs:

- a log of every request (method, path, headers, body) for tests to assert on;
- scriptable faults, each at a given rate from a seeded RNG: HTTP 500s, replies slower
  than a client's timeout, connections cut without a reply, and malformed JSON bodies;
- control endpoints under `/_sim/` (state, faults, request log, reset) so a simulator
  running in another process (`manage.py simulators`, `make run`) can be steered;
- the contracts it keeps (`contracts`, names in `simulators.contracts.spec.SOURCES`):
  every request is checked against its operation in the published description before
  the simulator sees it, and refused the way the real service refuses it
  (`contract_refusal`); every reply is checked before it leaves. Both land in the
  process's contract log (`simulators.contracts.log.LOG`), which the test suite's guard
  reads, so neither a client nor a simulator can drift from the description.

Simulators are test and demo infrastructure: they never import Bulwark's models.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


def json_dumps(value: Any) -> str:
    """JSON with Decimals written as numbers (as the real services send them)."""

    class _Encoder(json.JSONEncoder):
        def default(self, o: Any) -> Any:
            if isinstance(o, Decimal):
                return _RawNumber(o)
            return super().default(o)

    text = json.dumps(value, cls=_Encoder)
    return re.sub(r'"__decimal__:([-0-9.eE+]+)"', r"\1", text)


class _RawNumber(str):
    def __new__(cls, number: Decimal) -> _RawNumber:
        return super().__new__(cls, f"__decimal__:{number}")


@dataclass
class SimRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        return json.loads(self.body or b"null", parse_float=Decimal)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class SimResponse:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, value: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> SimResponse:
        return cls(
            status=status,
            body=json_dumps(value).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain",
             headers: dict[str, str] | None = None) -> SimResponse:  # fmt: skip
        return cls(
            status=status,
            body=text.encode(),
            headers={"Content-Type": content_type, **(headers or {})},
        )


@dataclass
class Faults:
    """Fault rates between 0 and 1, drawn per request from the simulator's seeded RNG."""

    error_rate: float = 0.0  # reply 500 with the service's error body
    slow_rate: float = 0.0  # wait `slow_seconds` before replying
    slow_seconds: float = 5.0
    cut_rate: float = 0.0  # close the connection without a reply
    malformed_rate: float = 0.0  # send a truncated JSON body with status 200
    paths: str = ""  # regex: faults apply only to matching paths ("" = all)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int | None
    fault: str | None
    at: float
    violations: list[Any] = field(default_factory=list)  # contract violations, both ways


Handler = Callable[..., SimResponse]


class SimulatorServer:
    """Subclass, then register routes with `self.route(method, pattern, handler)`.

    Pattern groups are passed to the handler as keyword arguments:
    `self.route("GET", r"/v4/profiles/(?P<profile_id>\\d+)/balances", self.balances)`.
    """

    name = "simulator"
    contracts: tuple[str, ...] = ()  # the descriptions this simulator keeps, in order

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, seed: int = 1) -> None:
        self.host, self.port, self.seed = host, port, seed
        self.rng = random.Random(seed)
        self.faults = Faults()
        self.lock = threading.RLock()
        self.requests: list[RecordedRequest] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._persist_path: Path | None = None  # set by `persist_to`

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> SimulatorServer:
        simulator = self

        class _Handler(_RequestHandler):
            sim = simulator

        self._server = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"{self.name}-sim", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.snapshot_write()

    # --- persistence (simulators.persist) ----------------------------------------------

    _TRANSIENT = ("_server", "_thread", "_persist_path", "requests", "_routes")

    def persist_to(self, path: Path) -> SimulatorServer:
        """Keep a snapshot at `path`: after every request but GET/HEAD, and on stop."""
        self._persist_path = path
        self.snapshot_write()
        return self

    def snapshot_write(self) -> None:
        if self._persist_path is not None:
            from simulators.persist import snapshot_save

            snapshot_save(self, self._persist_path)

    def snapshot_state(self) -> dict[str, Any]:
        """What a snapshot keeps: everything but the running process's parts. Routes are
        kept by handler name (they are this server's own methods)."""
        state = {k: v for k, v in self.__dict__.items() if k not in self._TRANSIENT}
        state["_route_names"] = [(m, p, h.__name__) for m, p, h in self._routes]
        return state

    def snapshot_restore(self, state: dict[str, Any]) -> None:
        routes = state.pop("_route_names")
        self.__dict__.update(state)
        self._routes = [(m, p, getattr(self, name)) for m, p, name in routes]
        self._server = self._thread = self._persist_path = None
        self.requests = []
        self.port = 0  # a free port unless the caller sets one before `start`

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- routing ---------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))

    def dispatch(self, request: SimRequest) -> SimResponse:
        if request.path.startswith("/_sim/"):
            return self._control(request)
        path_matched = False
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match:
                path_matched = True
                if method == request.method:
                    return handler(request, **match.groupdict())
        if path_matched:
            return self.error_response(405, "Method not allowed")
        return self.error_response(404, f"No route for {request.method} {request.path}")

    def error_response(self, status: int, message: str) -> SimResponse:
        """The service's own error shape; subclasses override with the real one."""
        return SimResponse.json({"error": message}, status=status)

    # --- faults ----------------------------------------------------------------------

    def set_faults(self, **rates: Any) -> None:
        """Rates are probabilities, compared with the RNG's floats: a rate posted to
        `/_sim/faults` arrives as a JSON number (a Decimal here) and is made a float."""
        unknown = set(rates) - set(Faults.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        values = {name: v if name == "paths" else float(v) for name, v in rates.items()}
        if any(not 0 <= v <= 1 for k, v in values.items() if k.endswith("_rate")):
            raise ValueError("fault rates lie between 0 and 1")
        with self.lock:
            self.faults = Faults(**values)

    def draw_fault(self, path: str) -> str | None:
        with self.lock:
            faults = self.faults
            if faults.paths and not re.search(faults.paths, path):
                return None
            roll = self.rng.random()
        for name, rate in (
            ("error", faults.error_rate),
            ("slow", faults.slow_rate),
            ("cut", faults.cut_rate),
            ("malformed", faults.malformed_rate),
        ):
            if roll < rate:
                return name
            roll -= rate
        return None

    # --- state for control and tests -------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What `/_sim/state` shows; subclasses add their data counts."""
        return {"name": self.name, "seed": self.seed, "requests": len(self.requests)}

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.faults = Faults()

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        with self.lock:
            return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    def _control(self, request: SimRequest) -> SimResponse:
        action = request.path[len("/_sim/") :].strip("/")
        if action == "state":
            return SimResponse.json(self.state())
        if action == "faults" and request.method == "POST":
            try:
                self.set_faults(**(request.json() or {}))
            except (TypeError, ValueError, ArithmeticError) as exc:
                return SimResponse.json({"error": str(exc)}, status=400)
            return SimResponse.json(asdict(self.faults))
        if action == "faults":
            return SimResponse.json(asdict(self.faults))
        if action == "requests":
            with self.lock:
                log = [
                    {"method": r.method, "path": r.path, "status": r.status, "fault": r.fault}
                    for r in self.requests
                ]
            return SimResponse.json(log)
        if action == "reset" and request.method == "POST":
            self.reset()
            return SimResponse.json({"reset": True})
        return self.control(action, request)

    def control(self, action: str, request: SimRequest) -> SimResponse:
        """Simulator-specific control actions (`/_sim/<action>`)."""
        return SimResponse.json({"error": f"unknown control action {action!r}"}, status=404)

    # --- contracts -------------------------------------------------------------------

    def contract_context(self, request: SimRequest) -> set[str]:
        """Flags about the request that allowlist entries may be limited to
        (`when: custom-connection`)."""
        return set()

    def contract_refusal(self, request: SimRequest, violations: list[Any]) -> SimResponse:
        """What the real service answers a request that breaks its description;
        subclasses answer as their service does."""
        return self.error_response(400, "; ".join(v.message for v in violations))

    def contract_check(self, request: SimRequest) -> _Exchange:
        return _Exchange.start(self, request)


class _RequestHandler(BaseHTTPRequestHandler):
    sim: SimulatorServer
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle's algorithm on, the body waits
    # for the client's delayed ACK (~40 ms a reply on Linux loopback).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr logging
        return

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = SimRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        if parts.path.startswith("/_sim/"):  # control traffic is neither faulted nor logged
            response = self.sim.dispatch(request)
            if request.method == "POST":
                self.sim.snapshot_write()
            self._send(response)
            return
        fault = self.sim.draw_fault(parts.path)
        record = RecordedRequest(
            method=request.method, path=request.path, query=request.query,
            headers=request.headers, body=body, status=None, fault=fault, at=time.time(),
        )  # fmt: skip
        with self.sim.lock:
            self.sim.requests.append(record)
        exchange = self.sim.contract_check(request)
        if fault == "cut":
            exchange.finish(record, None)
            self.close_connection = True
            self.connection.close()
            return
        if fault == "error":
            response = self.sim.error_response(500, "Internal server error (simulated)")
        elif exchange.refusal is not None:
            response = exchange.refusal
        else:
            if fault == "slow":
                time.sleep(self.sim.faults.slow_seconds)
            try:
                response = self.sim.dispatch(request)
            except Exception as exc:  # a bug in a simulator must show, not hang the client
                response = SimResponse.json({"error": f"simulator crashed: {exc!r}"}, status=599)
        # A deliberately broken body is the fault being simulated, not drift.
        exchange.finish(record, None if fault == "malformed" else response)
        if fault == "malformed" and response.status == 200:
            response = SimResponse(
                status=200, body=response.body[: max(len(response.body) // 2, 1)],
                headers=response.headers,
            )  # fmt: skip
        record.status = response.status
        if request.method not in ("GET", "HEAD"):
            self.sim.snapshot_write()
        self._send(response)

    def _send(self, response: SimResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


@dataclass
class _Exchange:
    """One request's contract check, and its reply's when it is sent."""

    sim: SimulatorServer
    request: SimRequest
    contract: Any = None
    operation: Any = None
    context: set[str] = field(default_factory=set)
    violations: list[Any] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)
    refusal: SimResponse | None = None

    @classmethod
    def start(cls, sim: SimulatorServer, request: SimRequest) -> _Exchange:
        exchange = cls(sim, request)
        from simulators.contracts.spec import Violation, available, contract

        # Without the publishers' descriptions (a demo away from the repository's
        # shared/specs) nothing can be checked; the test suite refuses to run so.
        if not sim.contracts or not available():
            return exchange

        exchange.context = sim.contract_context(request)
        known = False
        for name in sim.contracts:
            candidate = contract(name)
            operation, params, path_known = candidate.match(request.method, request.path)
            known = known or path_known
            if operation is not None:
                exchange.contract, exchange.operation = candidate, operation
                exchange._keep(
                    candidate.check_request(
                        operation, params, request.query, request.headers, request.body
                    )
                )
                break
        else:
            what = "method" if known else "path"
            exchange._keep(
                [
                    Violation(
                        sim.contracts[0], f"{request.method} {request.path}", "request",
                        f"no operation of {', '.join(sim.contracts)} has this {what}",
                        refuse=False,
                    )
                ]
            )  # fmt: skip
        refused = [v for v in exchange.violations if v.refuse]
        if refused:
            exchange.refusal = sim.contract_refusal(request, refused)
        return exchange

    def _keep(self, violations: list[Any]) -> None:
        from simulators.contracts.allowlist import allowlist

        for violation in violations:
            entry = allowlist().allows(violation, self.context)
            if entry is None:
                self.violations.append(violation)
            else:
                self.allowed.append(entry.id)

    def finish(self, record: RecordedRequest, response: SimResponse | None) -> None:
        """Check the reply (None: none was sent, or its body is a simulated fault)."""
        if response is not None and self.operation is not None:
            headers = {k.lower(): v for k, v in response.headers.items()}
            self._keep(
                self.contract.check_response(
                    self.operation, response.status, headers, response.body
                )
            )
        if response is not None and response.status == 599:
            from simulators.contracts.spec import Violation

            self.violations.append(
                Violation(self.sim.name, self.request.path, "response", response.body.decode())
            )
        record.violations = list(self.violations)
        if self.contract is not None or self.violations:
            from simulators.contracts.log import LOG

            LOG.exchange(
                self.contract.name if self.contract else None,
                self.operation.id if self.operation else None,
                self.violations,
                self.allowed,
            )
