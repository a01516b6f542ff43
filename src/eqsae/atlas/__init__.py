"""The feature atlas: each latent's symmetry, partners and concepts, its figures and the explorer page."""
