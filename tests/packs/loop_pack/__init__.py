"""A for-loop as ComfyUI packs write it: ForLoopClose re-expands the loop body with GraphBuilder, handing the
value computed so far (an IMAGE tensor) to the next ForLoopOpen as a constant input of an ephemeral node."""

from comfy_execution.graph_utils import GraphBuilder


class ForLoopOpen:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"remaining": ("INT", {"default": 1, "min": 0})},
                "optional": {"value": ("*",)}}

    RETURN_TYPES = ("FLOW_CONTROL", "INT", "*")
    RETURN_NAMES = ("flow_control", "remaining", "value")
    FUNCTION = "open"
    CATEGORY = "loop"

    def open(self, remaining, value=None):
        return ("stub", remaining, value)


class ForLoopClose:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"flow_control": ("FLOW_CONTROL", {"rawLink": True}), "remaining": ("INT",)},
                "optional": {"value": ("*",)},
                "hidden": {"dynprompt": "DYNPROMPT", "unique_id": "UNIQUE_ID"}}

    RETURN_TYPES = ("*",)
    FUNCTION = "close"
    CATEGORY = "loop"

    def close(self, flow_control, remaining, value=None, dynprompt=None, unique_id=None):
        if remaining <= 1:
            return (value,)
        open_id = flow_control[0]
        body = self.body(dynprompt, unique_id, open_id)
        graph = GraphBuilder()
        for nid in body | {open_id, unique_id}:
            node = dynprompt.get_node(nid)
            graph.node(node["class_type"], id=nid)
        for nid in body | {unique_id}:
            for name, val in dynprompt.get_node(nid)["inputs"].items():
                if isinstance(val, list) and len(val) == 2 and val[0] in body | {open_id}:
                    val = graph.lookup_node(val[0]).out(val[1])
                graph.lookup_node(nid).set_input(name, val)
        new_open = graph.lookup_node(open_id)
        new_open.set_input("remaining", remaining - 1)
        new_open.set_input("value", value)  # the tensor computed so far, a constant of an ephemeral node
        return {"result": (graph.lookup_node(unique_id).out(0),), "expand": graph.finalize()}

    @staticmethod
    def body(dynprompt, close_id, open_id):
        """The nodes between the open node and this close node."""
        reaches: dict[str, bool] = {}

        def visit(nid):
            if nid == open_id:
                return True
            if nid not in reaches:
                reaches[nid] = False
                ups = [v[0] for v in dynprompt.get_node(nid)["inputs"].values()
                       if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str)]
                reaches[nid] = any([visit(u) for u in ups])
            return reaches[nid]

        visit(close_id)
        return {nid for nid, ok in reaches.items() if ok and nid != close_id}


class LoopInvert:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "add": ("FLOAT", {"default": 0.1})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    CATEGORY = "loop"

    def run(self, image, add):
        return ((image + add).clamp(0, 1),)


class LoopMean:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "loop"

    def run(self, image):
        return {"ui": {"mean": [round(float(image.mean()), 4)], "shape": [list(image.shape)]}}


NODE_CLASS_MAPPINGS = {c.__name__: c for c in (ForLoopOpen, ForLoopClose, LoopInvert, LoopMean)}
