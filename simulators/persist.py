"""Simulator state that outlives the process: snapshots for the demo's long-running stack.

`make run` seeds the simulators once (`seed_demo`) and then runs them beside web, worker
and beat on fixed ports. Bulwark keeps what it learnt from them (Xero tokens, posted
bank transactions, Wise references), so the simulators must come back with the same
state: each keeps a pickled snapshot, written atomically after every request that may
change it (anything but GET and HEAD) and when it stops.

A snapshot is the server's attributes minus what belongs to the running process (the
socket server, its thread); locks and RSA keys are pickled by value. Snapshots are demo
infrastructure written and read by the same code on the same machine; never load one
from elsewhere (pickle runs code).
"""

from __future__ import annotations

import io
import os
import pickle
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from simulators.base import SimulatorServer

FORMAT = 1
_RLOCK_TYPE = type(threading.RLock())
_LOCK_TYPE = type(threading.Lock())


def _private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _public_key(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    assert isinstance(key, rsa.RSAPublicKey)
    return key


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, rsa.RSAPrivateKey):
            pem = obj.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return _private_key, (pem,)
        if isinstance(obj, rsa.RSAPublicKey):
            pem = obj.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return _public_key, (pem,)
        if isinstance(obj, _RLOCK_TYPE):
            return threading.RLock, ()
        if isinstance(obj, _LOCK_TYPE):
            return threading.Lock, ()
        return NotImplemented


def snapshot_bytes(server: SimulatorServer) -> bytes:
    with server.lock:
        state = server.snapshot_state()
        buffer = io.BytesIO()
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(
            {"format": FORMAT, "class": type(server), "state": state}
        )
    return buffer.getvalue()


def snapshot_save(server: SimulatorServer, path: Path) -> None:
    """Write `server`'s state to `path` atomically (a reader never sees half a file)."""
    data = snapshot_bytes(server)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def snapshot_load(path: Path) -> SimulatorServer | None:
    """An unstarted server with the state saved at `path`, or None when there is none."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    payload = pickle.loads(data)  # noqa: S301 - our own snapshot, written by snapshot_save
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a simulator snapshot this version can read")
    cls = payload["class"]
    if not (isinstance(cls, type) and issubclass(cls, SimulatorServer)):
        raise ValueError(f"{path} does not hold a simulator")
    server = cls.__new__(cls)
    server.snapshot_restore(payload["state"])
    return server
