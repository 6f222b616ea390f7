"""Service tests: run with `pytest` after `pip install -r requirements.txt` (they load the model in ./model)."""
import os

import pytest

pytest.importorskip("optimum.onnxruntime")
os.environ.setdefault("API_KEYS", "test-key")
os.environ.setdefault("RATE_LIMIT", "1000/minute")

from fastapi.testclient import TestClient  # noqa: E402

from app.main import app  # noqa: E402

HEADERS = {"Authorization": "Bearer test-key"}


@pytest.fixture(scope="module")
def client():
    with TestClient(app) as c:
        yield c


def test_health_and_ready(client):
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200


def test_completion_requires_a_key(client):
    assert client.post("/v1/completions", json={"prompt": "Hi"}).status_code == 401
    assert client.post("/v1/completions", json={"prompt": "Hi"}, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_completion_and_validation(client):
    response = client.post("/v1/completions", json={"prompt": "Hello", "max_tokens": 4, "temperature": 0}, headers=HEADERS)
    assert response.status_code == 200
    assert response.json()["choices"][0]["finish_reason"] == "stop"
    assert client.post("/v1/completions", json={"prompt": "Hello", "max_tokens": -5}, headers=HEADERS).status_code == 422


def test_streaming_ends_with_done(client):
    with client.stream("POST", "/v1/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "stream": True}, headers=HEADERS) as response:
        body = "".join(response.iter_text())
    assert body.rstrip().endswith("data: [DONE]")


def test_metrics(client):
    assert "llmops_requests_total" in client.get("/metrics").text
