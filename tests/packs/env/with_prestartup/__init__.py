import folder_paths

FOLDERS = folder_paths.get_folder_paths("prestartup_models")  # raises KeyError unless prestartup ran first


class PrestartupFolders:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"

    def run(self):
        return (FOLDERS[0],)


NODE_CLASS_MAPPINGS = {"PrestartupFolders": PrestartupFolders}
