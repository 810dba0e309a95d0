"""Classical MCMC on energy targets: batched kernels (gensci.mcmc.samplers) and the chain runner
(gensci.mcmc.chains). Imports only torch and the leaves; the measurements live in gensci.metrics.sampling."""

from gensci.mcmc.chains import ChainResult, run_chains
from gensci.mcmc.samplers import (
    HMC,
    MALA,
    ChainState,
    Counts,
    DualAveraging,
    FlowMALA,
    IndependenceMH,
    Kernel,
    Proposal,
    RandomWalkMetropolis,
)

__all__ = ["HMC", "MALA", "ChainResult", "ChainState", "Counts", "DualAveraging", "FlowMALA", "IndependenceMH",
           "Kernel", "Proposal", "RandomWalkMetropolis", "run_chains"]
