"""k-diffusion's helpers packs import from ``comfy.k_diffusion`` (pure functions)."""
