"""The shared simulator server: routing, faults at a seeded rate, control endpoints."""

from decimal import Decimal

import httpx
import pytest

from simulators.base import SimResponse, SimulatorServer, json_dumps


class EchoSimulator(SimulatorServer):
    name = "echo"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.route("GET", r"/items/(?P<item_id>\d+)", self.item)
        self.route("POST", r"/items", self.create)

    def item(self, request, item_id):
        return SimResponse.json({"id": int(item_id), "price": Decimal("10.10")})

    def create(self, request):
        return SimResponse.json(request.json(), status=201)


@pytest.fixture
def echo():
    with EchoSimulator(seed=7) as server:
        yield server


def test_routes_and_decimal_numbers_survive_the_wire(echo):
    response = httpx.get(f"{echo.url}/items/42")
    assert response.status_code == 200
    assert response.text == '{"id": 42, "price": 10.10}'
    created = httpx.post(f"{echo.url}/items", content=b'{"amount": 1.005}')
    assert created.status_code == 201
    assert created.text == '{"amount": 1.005}'


def test_unknown_paths_and_methods(echo):
    assert httpx.get(f"{echo.url}/nope").status_code == 404
    assert httpx.delete(f"{echo.url}/items/1").status_code == 405


def test_error_faults_at_the_requested_rate(echo):
    echo.set_faults(error_rate=0.3)
    statuses = [httpx.get(f"{echo.url}/items/1").status_code for _ in range(200)]
    share = statuses.count(500) / len(statuses)
    assert 0.2 < share < 0.4
    assert set(statuses) == {200, 500}


def test_cut_slow_and_malformed_faults(echo):
    echo.set_faults(cut_rate=1.0)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{echo.url}/items/1")
    echo.set_faults(slow_rate=1.0, slow_seconds=0.5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{echo.url}/items/1", timeout=0.2)
    echo.set_faults(malformed_rate=1.0)
    with pytest.raises(ValueError):  # noqa: PT011 - json's own error
        httpx.get(f"{echo.url}/items/1").json()


def test_control_endpoints_steer_a_running_simulator(echo):
    httpx.post(f"{echo.url}/_sim/faults", json={"error_rate": 1.0, "paths": "^/items/"})
    assert httpx.get(f"{echo.url}/items/1").status_code == 500
    assert httpx.post(f"{echo.url}/items", json={}).status_code == 201  # path not matched
    log = httpx.get(f"{echo.url}/_sim/requests").json()
    assert [(r["method"], r["status"]) for r in log] == [("GET", 500), ("POST", 201)]
    httpx.post(f"{echo.url}/_sim/reset")
    assert httpx.get(f"{echo.url}/items/1").status_code == 200
    assert httpx.get(f"{echo.url}/_sim/state").json()["requests"] == 1


def test_json_dumps_keeps_decimal_digits():
    assert json_dumps({"a": Decimal("0.10"), "b": [Decimal("-3")]}) == '{"a": 0.10, "b": [-3]}'


def test_fault_rates_set_over_http_are_drawn_not_crashed_on(echo):
    """`/_sim/faults` receives JSON numbers as Decimals; the rates are compared with the
    RNG's floats (`float -= Decimal` crashed every request's handler)."""
    set_ = httpx.post(f"{echo.url}/_sim/faults", json={"error_rate": 0.5, "paths": "^/items"})
    assert set_.json()["error_rate"] == 0.5
    statuses = {httpx.get(f"{echo.url}/items/1").status_code for _ in range(40)}
    assert statuses == {200, 500}
    refused = httpx.post(f"{echo.url}/_sim/faults", json={"error_rate": 2})
    assert refused.status_code == 400
    assert httpx.post(f"{echo.url}/_sim/faults", json={"nope": 1}).status_code == 400
