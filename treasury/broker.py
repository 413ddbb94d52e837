"""The embedded broker: kombu's filesystem transport, made to survive a killed worker.

kombu's filesystem transport deletes a message's file the moment a worker reads it, so
with `acks_late` a worker that dies mid-task (the whole worker, not only a pool child)
takes the message with it: the task is gone for good. Here a message read for a consumer
that acknowledges moves to `unacked/<pid>~<name>` instead and is deleted only on ack; a
reject or a restore puts it back as kombu does. Any process that opens a channel (a
worker starting, beat, the web process publishing) moves the files of dead processes
back into the queue, so the next worker runs the task again. Tasks are idempotent (every
sync and post can run twice), so a redelivery is harmless.

Used when `REDIS_URL` is empty (settings: `CELERY_BROKER_TRANSPORT`); with Redis the
broker's own visibility timeout redelivers, and the runs sweep does not wait for it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Any

from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

from treasury.processes import pid_alive

SEPARATOR = "~"


class Channel(filesystem.Channel):
    """A filesystem channel whose messages stay on disk until acknowledged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unacked_files: dict[str, str] = {}
        self._no_ack_queues: set[str] = set()
        os.makedirs(self.unacked_folder, exist_ok=True)
        unacked_recover(self.unacked_folder, self.data_folder_in)

    @property
    def unacked_folder(self) -> str:
        return self.transport_options.get("unacked_folder", "unacked")

    def basic_consume(self, queue: str, no_ack: bool, *args: Any, **kwargs: Any) -> Any:
        if no_ack:  # remote control and events: nothing acknowledges them
            self._no_ack_queues.add(queue)
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def _get(self, queue: str) -> Any:
        if queue in self._no_ack_queues:
            return super()._get(queue)
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            held = os.path.join(self.unacked_folder, f"{os.getpid()}{SEPARATOR}{name}")
            try:  # an atomic rename: of two consumers, one gets the file
                os.rename(os.path.join(self.data_folder_in, name), held)
            except OSError:
                continue
            with open(held, "rb") as handle:
                payload = loads(bytes_to_str(handle.read()))
            self._unacked_files[payload["properties"]["delivery_tag"]] = held
            return payload
        raise filesystem.Empty()

    def _unacked_forget(self, delivery_tag: str) -> None:
        path = self._unacked_files.pop(delivery_tag, None)
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple)
        self._unacked_forget(delivery_tag)

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        super().basic_reject(delivery_tag, requeue)  # a requeue writes a new file
        self._unacked_forget(delivery_tag)

    def _restore(self, message: Any) -> None:
        super()._restore(message)  # written back to the queue as a new file
        self._unacked_forget(message.delivery_tag)


class Transport(filesystem.Transport):
    Channel = Channel


def unacked_recover(unacked_folder: str, queue_folder: str) -> int:
    """Move the messages held by processes that no longer run back into the queue."""
    moved = 0
    try:
        names = os.listdir(unacked_folder)
    except FileNotFoundError:
        return 0
    for name in names:
        pid_text, _, original = name.partition(SEPARATOR)
        if not (pid_text.isdigit() and original) or pid_alive(int(pid_text)):
            continue
        try:
            shutil.move(os.path.join(unacked_folder, name), os.path.join(queue_folder, original))
        except OSError:  # another process recovered it first
            continue
        moved += 1
    return moved
