"""The denoising loop with constraint hooks."""

from .hooks import CanvasHook, HookChain, PassRecord, PassView
from .loop import RowStats, SampleOutput, SamplerConfig, denoise, entropy, entropy_bound_accept

__all__ = ["CanvasHook", "HookChain", "PassRecord", "PassView", "RowStats", "SampleOutput", "SamplerConfig",
           "denoise", "entropy", "entropy_bound_accept"]
