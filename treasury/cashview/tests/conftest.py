import pytest

from treasury.cashview import status


@pytest.fixture
def status_registry(monkeypatch):
    """The status and proof registries, restored after the test."""
    monkeypatch.setattr(status, "_providers", list(status._providers))
    monkeypatch.setattr(status, "_proof_provider", [])
    return status
