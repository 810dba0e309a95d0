"""MCMC on energy targets: batched kernels (gensci.mcmc.samplers; spin kernels gensci.mcmc.spins), the chain runner
(gensci.mcmc.chains) and normalizing-flow proposals trained on the energy (gensci.mcmc.flows, zuko). The
measurements live in gensci.metrics.sampling."""

from gensci.mcmc.chains import ChainResult, run_chains
from gensci.mcmc.learned import LearnedProposal, LearnedTraining, train_learned_proposal
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
from gensci.mcmc.spins import HeatBath, SpinMetropolis, Wolff

__all__ = ["HMC", "MALA", "ChainResult", "ChainState", "Counts", "DualAveraging", "FlowMALA", "HeatBath",
           "IndependenceMH", "Kernel", "LearnedProposal", "LearnedTraining", "Proposal", "RandomWalkMetropolis",
           "SpinMetropolis", "Wolff", "run_chains", "train_learned_proposal"]
