"""The watched folder: every regular file in it is dropped into the archive (filed by
the rules, else into the inbox) and then moved into `.taken/`, so the folder shows
what is still to be taken. A file still being written (changed in the last few seconds)
waits for the next look. A crash between the drop and the move is harmless: the same
bytes dropped again are filed once.
"""

from __future__ import annotations

import mimetypes
import time
from pathlib import Path

from archive.forms import UPLOAD_MAX_BYTES
from archive.services import Dropped, document_drop

TAKEN = ".taken"
SETTLE_SECONDS = 5.0


def folder_take(*, folder: Path, settle_seconds: float = SETTLE_SECONDS) -> list[Dropped]:
    taken_dir = folder / TAKEN
    dropped = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        stat = path.stat()
        if time.time() - stat.st_mtime < settle_seconds or stat.st_size > UPLOAD_MAX_BYTES:
            continue
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        dropped.append(
            document_drop(data=path.read_bytes(), name=path.name, content_type=content_type)
        )
        taken_dir.mkdir(exist_ok=True)
        path.replace(taken_dir / path.name)
    return dropped
