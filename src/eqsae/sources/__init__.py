"""Sources: what writes an orbit table (the paper's Shapes, the digits, a user's model or Parquet)."""

PRE_RELU_SOURCES = ("digits", "shapes")
"""Sources whose psi is a pre-activation that the base decoder starts with a ReLU on: RESULT 1 adds the R^2 after
that ReLU (`eqsae.fitting.transform.result1_table`'s post_relu readings), as the paper's run does."""
