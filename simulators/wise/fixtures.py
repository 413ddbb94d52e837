"""Pytest fixtures for the Wise simulator; the root conftest lists this module in
`pytest_plugins` (until then, import these names in a test package's conftest.py).

- `wise_sim`: a started simulator with a small business (about 300 lines over the last
  200 days, seed 7), stopped after the test.
- `wise_sim_factory(**options)`: the same with other options (`size`, `start`, `until`,
  `seed`); every simulator it starts is stopped after the test.
- `wise_keypair`: an RSA key pair (`private_pem`, `public_pem`) for SCA, made once.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from simulators.wise.server import WiseSimulator


@dataclass(frozen=True)
class RsaKeyPair:
    private_pem: str
    public_pem: str


def rsa_keypair() -> RsaKeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return RsaKeyPair(private_pem, public_pem)


@pytest.fixture(scope="session")
def wise_keypair() -> RsaKeyPair:
    return rsa_keypair()


@pytest.fixture
def wise_sim_factory() -> Iterator[Callable[..., WiseSimulator]]:
    started: list[WiseSimulator] = []

    def make(**options: Any) -> WiseSimulator:
        until = options.pop("until", None) or datetime.now(UTC).replace(microsecond=0)
        options.setdefault("start", until - timedelta(days=200))
        options.setdefault("size", 300)
        options.setdefault("seed", 7)
        simulator = WiseSimulator(until=until, **options).start()
        started.append(simulator)
        return simulator

    yield make
    for simulator in started:
        simulator.stop()


@pytest.fixture
def wise_sim(wise_sim_factory: Callable[..., WiseSimulator]) -> WiseSimulator:
    return wise_sim_factory()
