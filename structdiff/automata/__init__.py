"""Byte-level DFAs, token classes over a vocabulary, and the canvas DP (batched torch on the logits' device)."""

from .automaton import TokenAutomaton, cache_dir, compile_ir, compile_regex, within_budget
from .bytedfa import MAX_DFA_STATES, ByteDFA
from .ir_dfa import build_byte_dfa

__all__ = ["ByteDFA", "build_byte_dfa", "MAX_DFA_STATES", "TokenAutomaton", "compile_ir", "compile_regex", "cache_dir",
           "within_budget"]
