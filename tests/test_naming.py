"""Image names: the namespace that keeps one set of builds (the tests', say) apart from another."""

from __future__ import annotations

import pytest

from swegc.errors import SwegcError
from swegc.naming import env_image_name, instance_image_name


def test_image_names_take_the_namespace_from_the_environment(monkeypatch):
    monkeypatch.setenv("SWEGC_IMAGE_NAMESPACE", "team-a")
    assert env_image_name("Octo/Demo", "k1") == "team-a-env/octo__demo:k1"
    assert instance_image_name("Octo__Demo-7", "k2") == "team-a-inst/octo__demo-7:k2"


def test_without_a_namespace_images_are_named_as_always(monkeypatch):
    monkeypatch.delenv("SWEGC_IMAGE_NAMESPACE", raising=False)
    assert instance_image_name("octo__demo-7", "k") == "swegc-inst/octo__demo-7:k"


def test_a_namespace_docker_cannot_name_is_an_error_that_says_what_to_use(monkeypatch):
    monkeypatch.setenv("SWEGC_IMAGE_NAMESPACE", "Team A")
    with pytest.raises(SwegcError, match="SWEGC_IMAGE_NAMESPACE='Team A'.*lower-case letters"):
        env_image_name("octo/demo", "k")
