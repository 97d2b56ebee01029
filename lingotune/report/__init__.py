"""Run reports and comparisons, read from run folders only."""
