"""The books seam holds: only a provider's own package imports it, and the registry
chooses the adapter from the connected organisation."""

import ast
from pathlib import Path

import pytest

from ledger.books import BooksAdapter, UnknownProvider, adapter_class, adapter_for
from ledger.models import Organisation

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = ("ledger.xero", "ledger.quickbooks")
SKIPPED = {".venv", "node_modules", "var", ".git", "migrations"}


def _sources() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.py")
        if not SKIPPED.intersection(path.relative_to(ROOT).parts)
    ]


def _imports(tree: ast.AST) -> set[str]:
    """Every module an `import` or `from … import` names, `from ledger import xero` as
    `ledger.xero`."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _provider_of(module: str) -> str | None:
    return next((p for p in PROVIDERS if module == p or module.startswith(f"{p}.")), None)


def test_no_module_outside_a_provider_package_imports_a_provider():
    offenders = []
    for path in _sources():
        relative = path.relative_to(ROOT)
        own = ".".join(relative.parts[:2])
        for module in _imports(ast.parse(path.read_text(), filename=str(path))):
            provider = _provider_of(module)
            if provider is not None and provider != own:
                offenders.append(f"{relative}: {module}")
    assert offenders == []


def test_the_boundary_check_sees_every_form_of_import():
    code = (
        "import ledger.xero.client\nfrom ledger import quickbooks\nfrom ledger.xero import push\n"
    )
    found = {m for m in _imports(ast.parse(code)) if _provider_of(m)}
    assert found == {"ledger.xero.client", "ledger.quickbooks", "ledger.xero", "ledger.xero.push"}
    assert _provider_of("ledger.xerox") is None


@pytest.mark.django_db
def test_the_adapter_is_chosen_from_the_organisations_provider():
    organisation = Organisation.objects.create(tenant_id="t-1", name="Quinn Studio")
    adapter = adapter_for(organisation)
    assert adapter.provider == organisation.provider == "xero"
    assert adapter.organisation is organisation
    operations = [n for n, v in vars(BooksAdapter).items() if callable(v) and n[0] != "_"]
    operations += [n for n, v in vars(BooksAdapter).items() if isinstance(v, classmethod)]
    assert {"lines_post", "read_back", "connect_start"} <= set(operations)
    assert [n for n in operations if not callable(getattr(adapter, n, None))] == []
    with pytest.raises(UnknownProvider):
        adapter_class("sage")
