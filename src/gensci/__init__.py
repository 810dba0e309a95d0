"""gensci: generative models of scientific data, judged by the statistics of the data."""

__version__ = "0.1.0"
