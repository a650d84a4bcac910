"""Node packs in their own processes: the remote runner and pack start-up (venvs in isolate/venv.py)."""
