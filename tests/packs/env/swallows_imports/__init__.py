# catches its ImportErrors and fails later with an unrelated error, hiding the cause
try:
    from comfy.sd import load_checkpoint_guess_config  # noqa: F401
except ImportError:
    pass
try:
    import latent_preview  # noqa: F401

    from .nodes import NODE_CLASS_MAPPINGS as _NODES
except ImportError:
    pass

NODE_CLASS_MAPPINGS = dict(_NODES)  # NameError: the real cause was the imports above
