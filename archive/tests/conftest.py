"""Every archive test stores its files in a folder of its own."""

import pytest


@pytest.fixture(autouse=True)
def archive_storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
