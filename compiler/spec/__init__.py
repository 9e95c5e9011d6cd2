"""Spec loading and checks: YAML with file:line for every value -> a typed, checked RepoSpec."""
