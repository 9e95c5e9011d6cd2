"""Image building: base images, env and instance images, the dated installer, Node, registries."""
