"""Project-level gates: production settings pass `check --deploy`, migrations are in step
with the models, and ruff is clean."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import call_command
from django.core.management.utils import get_random_secret_key


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_settings(tmp_path: Path):
    # Only what a production host would have: no test-suite switches.
    env = {
        k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        DEBUG="false",
        SECRET_KEY=get_random_secret_key() + get_random_secret_key(),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="bulwark.example.com",
        BULWARK_VAR_DIR=str(tmp_path),
    )
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env.update(DEBUG="false", BULWARK_VAR_DIR=str(tmp_path))
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
def test_migrations_are_in_step_with_models():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (make test installs it)")
    for command in ([ruff, "check", "."], [ruff, "format", "--check", "."]):
        result = subprocess.run(
            command, cwd=settings.BASE_DIR, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_no_float_in_money_code():
    """House rule: amounts and rates are Decimal; `float(` and FloatField stay out of app
    code (simulators, benchmarks and tests may measure time in floats)."""
    offenders = []
    for app in ("treasury", "accounts", "ledger", "operations", "archive"):
        for path in (settings.BASE_DIR / app).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if "float(" in line or "FloatField" in line:
                    offenders.append(f"{path.relative_to(settings.BASE_DIR)}:{number}")
    assert offenders == []
