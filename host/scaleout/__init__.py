"""Scale-out on Ray (``nodehost serve --workers ray``): one worker actor per GPU, each owning an executor, a
model manager and its node packs' children, behind the server's one worker interface (host.server.workers).
Ray is optional (``pip install -e '.[ray]'``): nothing here imports it until a pool starts."""

from host.scaleout.spec import RaySettings, RayUnavailable, SettingsError, WorkerSpec

__all__ = ["RaySettings", "RayUnavailable", "SettingsError", "WorkerSpec"]
