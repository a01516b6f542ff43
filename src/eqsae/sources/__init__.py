"""Sources: what writes an orbit table (the paper's Shapes, the digits, a user's model or Parquet)."""

PRE_RELU_SOURCES = ("mlp", "cnn", "digits")
"""Base networks (the Shapes' two autoencoders, the digits') whose psi is a pre-activation that their decoder starts
with a ReLU on: RESULT 1 adds the R^2 after that ReLU (`eqsae.fitting.transform.result1_table`'s post_relu)."""
