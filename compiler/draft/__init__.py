"""``swegc draft``: a spec read from the repository's own files, repaired by compiling it."""
