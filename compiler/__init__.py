"""The compiler: specs and candidates to validated task instances."""
