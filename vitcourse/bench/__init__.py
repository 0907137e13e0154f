"""Measurements (speed and memory) that the book reports; goals live here, not in timed tests."""
