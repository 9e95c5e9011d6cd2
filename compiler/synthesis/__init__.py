"""``swegc synthesize``: more validated tasks inside environments that already work.

Bugs are made in a valid instance's checkout (procedural mutations of covered functions,
reverted pull requests, combinations, a policy's rewrites), validated by the same harness on the
tests that cover them, and written as rows with the fix as the gold patch.
"""
