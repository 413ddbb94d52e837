"""The simulators `manage.py simulators` (and `make run`) start, by name.

Each entry is `module:function`; the function takes `seed` and `port` keyword arguments
and returns an unstarted `SimulatorServer`.
"""

import importlib

from simulators.base import SimulatorServer

SIMULATORS: dict[str, str] = {
    "xero": "simulators.xero.server:build",
    "ecb": "simulators.ecb.server:build",
    "treasury": "simulators.treasury.server:build",
    "wise": "simulators.wise.server:build",
    "connectwise": "simulators.connectwise.server:build",
    "quickbooks": "simulators.quickbooks.server:build",
}


def build(name: str, *, seed: int, port: int = 0) -> SimulatorServer:
    module_name, function = SIMULATORS[name].split(":")
    factory = getattr(importlib.import_module(module_name), function)
    return factory(seed=seed, port=port)
