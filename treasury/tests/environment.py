"""Loaded by pytest before Django (`-p treasury.tests.environment` in pyproject.toml).

Tests run with production-like settings (DEBUG off), so they need the two secrets that
production requires: fixed test values here, never used outside the suite. Each test
process gets its own var/ directory, so the embedded broker, the SQLite test database
and caches never meet a developer's running `make run`.
"""

import os
import tempfile
import uuid

os.environ["DEBUG"] = "false"
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWZlcm5ldC1rZXktMDEyMzQ1Njc4OTA=")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("STATIC_MANIFEST", "false")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API in tests
os.environ["BULWARK_VAR_DIR"] = tempfile.mkdtemp(prefix="bulwark-test-")
# Tasks of this test process go to its own queue: on a shared Redis, the workers that
# crash tests start never take another process's tasks.
os.environ["CELERY_QUEUE"] = f"test-{uuid.uuid4().hex[:8]}"
# Likewise its shared limits (`treasury.limits`): the workers it starts count with it, and
# no other test process's calls fill its windows.
os.environ["BULWARK_REDIS_PREFIX"] = f"test-{uuid.uuid4().hex[:8]}"
