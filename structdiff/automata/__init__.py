"""Byte-level DFAs, token classes over a vocabulary, and the canvas DP (pure numpy, no model)."""

from .automaton import TokenAutomaton, cache_dir, compile_ir, compile_regex
from .bytedfa import MAX_DFA_STATES, ByteDFA
from .ir_dfa import build_byte_dfa
from .dp import backward, best_classes, class_posteriors, edge_index, forward, sample_classes

__all__ = ["ByteDFA", "build_byte_dfa", "MAX_DFA_STATES", "TokenAutomaton", "compile_ir", "compile_regex", "cache_dir",
           "edge_index", "forward", "backward", "class_posteriors", "sample_classes", "best_classes"]
