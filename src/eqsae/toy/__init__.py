"""The toy model: its data, the experiment, the ground-truth scores, its tables and claims."""
