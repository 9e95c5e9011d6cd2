"""The runtime: images, sandboxes, agent rollouts."""
