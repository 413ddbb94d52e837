"""The archive's tests read their stored files from the test's own folder (the root
conftest points MEDIA_ROOT there)."""

import pytest


@pytest.fixture
def archive_storage(_media_root):
    return _media_root
