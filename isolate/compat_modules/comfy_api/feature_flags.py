"""``comfy_api.feature_flags``: what this server supports, as ComfyUI's feature negotiation names it."""

from __future__ import annotations

from typing import Any

SERVER_FEATURE_FLAGS: dict[str, Any] = {"supports_preview_metadata": True, "max_upload_size": 100 * 1024 * 1024,
                                        "extension": {"manager": {"supports_v4": False}}}


def get_server_features() -> dict[str, Any]:
    return dict(SERVER_FEATURE_FLAGS)


def get_connection_feature(sockets_metadata: dict[str, Any], sid: str, feature_name: str, default: Any = False) -> Any:
    if sid not in (sockets_metadata or {}):
        return default
    return sockets_metadata[sid].get("feature_flags", {}).get(feature_name, default)


def supports_feature(sockets_metadata: dict[str, Any], sid: str, feature_name: str) -> bool:
    return get_connection_feature(sockets_metadata, sid, feature_name, False) is True
