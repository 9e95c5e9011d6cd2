"""Failures of training, reranking and evaluation that are the user's to fix."""

from __future__ import annotations

from swegc.errors import SwegcError


class TrainSetupError(SwegcError):
    """A base model, tokenizer, chat template or option cannot be used as given."""


class NoTrainingDataError(SwegcError):
    """Nothing is left to train on after selection (every trajectory was dropped)."""


class VerifierError(SwegcError):
    """A verifier folder is missing, incompatible, or its answer tokens do not check out."""
