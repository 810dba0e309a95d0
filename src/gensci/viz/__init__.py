"""Plots, molecule pictures, GIFs and the HTML report."""
