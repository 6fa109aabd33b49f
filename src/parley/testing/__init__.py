"""Test and benchmark helpers that stand in for the outside world, so Parley can be exercised offline."""
