"""A pack whose import fails."""

import this_module_does_not_exist  # noqa: F401

NODE_CLASS_MAPPINGS = {}
