"""ComfyUI's HTTP + WebSocket API over the executor (aiohttp)."""
