"""How build containers reach package indexes: CA bundle, proxies, pip index, npm registry.

These settings are given to build containers at run time only (a mounted file, environment
variables of the container) and never written into an image's config or layers, because they
can hold credentials (a proxy URL with a password, a private index token).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

CA_MOUNT = "/swegc/ca.crt"
HOST_CA_CANDIDATES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")

# setting -> environment variables read (first set wins) when the spec does not give it
ENVIRON_FALLBACKS = {
    "ca_bundle": ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"),
    "http_proxy": ("HTTP_PROXY", "http_proxy"),
    "https_proxy": ("HTTPS_PROXY", "https_proxy"),
    "no_proxy": ("NO_PROXY", "no_proxy"),
    "pip_index_url": ("PIP_INDEX_URL",),
    "pip_extra_index_url": ("PIP_EXTRA_INDEX_URL",),
    "npm_registry": ("NPM_CONFIG_REGISTRY", "npm_config_registry"),
}


@dataclass(frozen=True)
class BuildNetwork:
    ca_bundle: str | None = None
    http_proxy: str | None = None
    https_proxy: str | None = None
    no_proxy: str | None = None
    pip_index_url: str | None = None
    pip_extra_index_url: str | None = None
    npm_registry: str | None = None

    @classmethod
    def resolve(cls, configured: Mapping[str, str | None],
                environ: Mapping[str, str] | None = None) -> BuildNetwork:
        """Spec values first, then the environment, then the host's CA bundle if it has one."""
        environ = os.environ if environ is None else environ
        values: dict[str, str | None] = {}
        for field in fields(cls):
            value = configured.get(field.name)
            if not value:
                value = next((environ[v] for v in ENVIRON_FALLBACKS[field.name] if environ.get(v)),
                             None)
            values[field.name] = value
        if not values["ca_bundle"]:
            values["ca_bundle"] = next((p for p in HOST_CA_CANDIDATES if Path(p).is_file()), None)
        return cls(**values)

    def ca_source(self) -> str | None:
        if self.ca_bundle and Path(self.ca_bundle).is_file():
            return str(Path(self.ca_bundle).resolve())
        return None

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.ca_source():
            for var in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO",
                        "UV_NATIVE_TLS_CERT", "npm_config_cafile"):
                env[var] = CA_MOUNT
        for name, variables in (("http_proxy", ("HTTP_PROXY", "http_proxy")),
                                ("https_proxy", ("HTTPS_PROXY", "https_proxy")),
                                ("no_proxy", ("NO_PROXY", "no_proxy"))):
            value = getattr(self, name)
            if value:
                env.update({v: value for v in variables})
        if self.pip_index_url:
            env["PIP_INDEX_URL"] = env["UV_INDEX_URL"] = self.pip_index_url
        if self.pip_extra_index_url:
            env["PIP_EXTRA_INDEX_URL"] = env["UV_EXTRA_INDEX_URL"] = self.pip_extra_index_url
        if self.npm_registry:
            env["npm_config_registry"] = self.npm_registry
        return env

    def secrets(self) -> list[str]:
        """Values that must never appear in a log: credentials inside proxy or index URLs."""
        found = []
        for value in (self.http_proxy, self.https_proxy, self.pip_index_url,
                      self.pip_extra_index_url, self.npm_registry):
            if value:
                match = re.match(r"^[a-z+]+://([^@/]+)@", value)
                if match:
                    found.append(match.group(1))
        return found
