"""The test service over real HTTP, for the CLI: the same app (and runtime) as the `client` fixture, served
by uvicorn on a free port."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def api_url(client: TestClient) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # No lifespan: the `client` fixture already started the runtime this app serves.
    server = uvicorn.Server(
        uvicorn.Config(client.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="test-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test HTTP server did not start")
        time.sleep(0.05)
    # Parties sign in to the URL they reach the service at (the CLI checks the sign-in message names it).
    settings = client.app.state.runtime.settings
    public_url, settings.public_url = settings.public_url, f"http://127.0.0.1:{port}"
    yield f"http://127.0.0.1:{port}"
    settings.public_url = public_url
    server.should_exit = True
    thread.join(timeout=10)
