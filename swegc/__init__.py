"""swegc: a declarative dataset compiler for software-engineering agents.

Importing this package must stay cheap: heavy libraries (docker, datasets, torch,
trl, vllm) are imported only inside the functions that need them.
"""

__version__ = "0.1.0"
