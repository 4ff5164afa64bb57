"""Constraint objects: each compiles, for one tokenizer, into a CompiledConstraint the sampler calls every pass."""
