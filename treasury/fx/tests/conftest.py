# The simulator fixtures, until the root conftest lists them in `pytest_plugins`.
from simulators.ecb.fixtures import ecb_full_history, ecb_simulator  # noqa: F401
from simulators.treasury.fixtures import treasury_simulator  # noqa: F401
