"""The paper's tables and claims: the statistics, the verdicts, the later version's tables."""
