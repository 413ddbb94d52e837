from simulators.wise.fixtures import wise_keypair, wise_sim, wise_sim_factory  # noqa: F401
