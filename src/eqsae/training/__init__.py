"""Training: the SAE training loop, its optimiser, and the metrics of a trained SAE on orbits."""
