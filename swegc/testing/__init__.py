"""Stand-ins that ship with swegc so tests and benchmarks need no mocks (local servers, scripted policies)."""
