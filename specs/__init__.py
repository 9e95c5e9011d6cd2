"""Specs and the JSON Schema they are checked against (package data)."""
