"""Fitting M and R: the learned group action on activations, its diagnostics and R^2."""
