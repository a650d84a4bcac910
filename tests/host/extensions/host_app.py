"""A tiny host process for the die-with-host test: starts the demo pack's child, prints its pid, waits."""

import asyncio
import sys
from pathlib import Path

from host.extensions.packs import start_pack
from host.registry import Registry


async def main() -> None:
    runner, _ = await start_pack(Registry(), Path(sys.argv[1]))
    print(runner.child.pid, flush=True)
    await asyncio.sleep(3600)


asyncio.run(main())
