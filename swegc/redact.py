"""Keep secrets (GitHub and Hub tokens, proxy credentials) out of logs and messages."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

SECRET_VARIABLES = ("GITHUB_TOKEN", "GITHUB_TOKENS", "GH_TOKEN", "HF_TOKEN",
                    "HUGGING_FACE_HUB_TOKEN", "OPENAI_API_KEY", "SWEGC_REGISTRY_PASSWORD")
TOKEN_PATTERNS = (
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"hf_[A-Za-z0-9]{20,}"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"),  # OpenAI-style API keys
)


def environment_secrets() -> list[str]:
    values: list[str] = []
    for name in SECRET_VARIABLES:
        for part in os.environ.get(name, "").split(","):
            if len(part.strip()) >= 8:
                values.append(part.strip())
    return values


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret value and token-shaped string replaced by ``***``."""
    for secret in sorted({*environment_secrets(), *extra}, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    for pattern in TOKEN_PATTERNS:
        text = pattern.sub("***", text)
    return text
