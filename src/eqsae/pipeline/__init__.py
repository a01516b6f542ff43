"""Running the workflow: config and its validation, runtime, provenance, code hashes, publishing."""
