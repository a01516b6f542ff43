"""Models: the base autoencoders and every SAE variant, their weights and export."""
