"""The remat policy: what the backward pass of a residual layer recomputes, as the checkpoint names it keeps.

What a function keeps for its backward pass is named where it is computed (`jax.ad_checkpoint.checkpoint_name`:
the scans tag their states `scan.STATES`, the residual layer its block and GLU outputs), and everything else is
recomputed from the function's inputs by `jax.checkpoint` with `save_only_these_names` (the kernels'
`checkpoint`, models/cpu_kernels.py, which on XLA:CPU also holds the recomputation back until the backward
pass). A kept matmul or scan output makes its computation dead code in the recomputation (a matmul's gradient
needs its inputs, not its output), so with the matmul outputs and the scan states kept, only elementwise work
runs twice.
"""

from models import platform as platform_lib
from models import scan as scan_lib

# model.remat: what the backward pass recomputes of each residual layer, as the checkpoint names it keeps.
# "none": nothing (autodiff keeps every intermediate); "full": everything from the layer's input (one more forward
# pass); "states": keeps the recurrence's states, so the scan and the matmul feeding it do not run again;
# "elementwise": keeps the outputs of the layer's matmuls and scans (the recurrence's states, the block's output,
# the GLU's pre-activations) and recomputes only elementwise work (norm, GELU, dropout).
BLOCK_OUTPUT, GLU_PREACTIVATIONS = "block", "glu"
KEEPS = {"full": (), "states": (scan_lib.STATES,),
         "elementwise": (scan_lib.STATES, BLOCK_OUTPUT, GLU_PREACTIVATIONS)}
REMATS = ("none", *KEEPS)
# "auto" per platform. CPU: "states", as memory is what is scarce there. GPU / TPU: "none", plain autodiff as in
# the authors' code, since the step fits in accelerator memory and recomputing only costs time (docs/models.md).
AUTO = {"cpu": "states", "gpu": "none", "tpu": "none"}


def resolve_remat(remat: str, platform: str | None = None) -> str:
  """The remat mode for `remat` ("auto" or one of REMATS); "auto" picks by platform.

  Args:
    remat: "auto" or one of REMATS.
    platform: "cpu" | "gpu" | "tpu" (also "cuda" / "rocm"); None means `jax.default_backend()`.
  """
  return platform_lib.resolve(remat, REMATS, AUTO, field="config.model.remat", platform=platform)
