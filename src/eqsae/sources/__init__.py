"""Sources: what writes an orbit table (the paper's Shapes, the digits, a user's model or Parquet)."""
