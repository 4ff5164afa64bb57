"""Quickstart: generate text with the default model."""

import structdiff

print(structdiff.generate("Describe a user as JSON:", max_tokens=32, seed=0))
