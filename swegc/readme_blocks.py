"""Generated blocks of the README (the CLI reference, the rejection reasons), kept true by tests.

A block sits between two HTML comment markers; ``replace_block`` rewrites what is between them.
"""

from __future__ import annotations

from pathlib import Path


def replace_block(readme: Path, start: str, end: str, content: str) -> bool:
    """Put ``content`` between the ``start`` and ``end`` markers of ``readme``; returns whether
    the file changed."""
    text = readme.read_text()
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    new = f"{head}{start}\n{content}{end}{tail}"
    if new != text:
        readme.write_text(new)
        return True
    return False
