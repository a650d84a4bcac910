"""``comfy_api.util``: video helper types."""

from isolate.api.namespaces import VideoCodec, VideoComponents, VideoContainer

__all__ = ["VideoCodec", "VideoComponents", "VideoContainer"]
