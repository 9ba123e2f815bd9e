"""runpod-flash 1.21.0's load-balancer handler for the seed example's `transform`.

The same module runpod-flash's build writes for a load-balanced resource
(`runpod_flash.cli.commands.build_utils.lb_handler_generator.LB_HANDLER_TEMPLATE`): a route
registry handed to `create_lb_handler`, a logging lifespan and a sync `GET /ping`. Its worker
image serves it with uvicorn; the benchmarks run `python -m uvicorn flash_lb_app:app` from the
separate venv `bench/.venv/flash-1.21.0` (see bench/contenders.py). Never imported by the project.
"""

import logging
import sys
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from runpod_flash.runtime.lb_handler import create_lb_handler

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "seed"))

from cpu_worker import transform

logger = logging.getLogger(__name__)

ROUTE_REGISTRY = {
    ("POST", "/transform"): transform,
}


@asynccontextmanager
async def lifespan(app: FastAPI):
    logger.info("Starting flash_lb_app endpoint")
    yield
    logger.info("Shutting down flash_lb_app endpoint")


app = create_lb_handler(ROUTE_REGISTRY, include_execute=False, lifespan=lifespan)


@app.get("/ping")
def ping():
    return {"status": "healthy"}
