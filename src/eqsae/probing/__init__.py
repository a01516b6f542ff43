"""Probing: the probe tasks read from the labels, and the probes that score representations on them."""
