"""Load test for {{ name }} with Locust, recording time to first token and tokens per second.

    locust -f locustfile.py --host http://localhost:{{ port }} --users 32 --spawn-rate 4 --run-time 2m --headless

For accurate numbers under heavy concurrency prefer `llmops bench http://localhost:{{ port }}`: Locust's own client
saturates first on small machines. Set API_KEY in the environment when the server requires one.
"""
import json
import os
import time

from locust import HttpUser, between, events, task

MODEL = os.environ.get("MODEL", "{{ modelName }}")
API_KEY = os.environ.get("API_KEY", "")
PROMPTS = [
    "Explain what a KV cache is in one paragraph.",
    "Write a haiku about autoscaling GPUs.",
    "List three ways to reduce time to first token.",
]


class StreamingUser(HttpUser):
    wait_time = between(0.5, 2.0)

    @task
    def stream_completion(self):
        headers = {"Content-Type": "application/json"}
        if API_KEY:
            headers["Authorization"] = f"Bearer {API_KEY}"
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": PROMPTS[int(time.time()) % len(PROMPTS)]}],
            "max_tokens": 64,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        start = time.perf_counter()
        first = None
        tokens = 0
        with self.client.post("/v1/chat/completions", json=body, headers=headers, stream=True, catch_response=True, name="chat (stream)") as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return
            for line in response.iter_lines():
                if not line or not line.startswith(b"data: "):
                    continue
                data = line[len(b"data: "):]
                if data == b"[DONE]":
                    break
                chunk = json.loads(data)
                if chunk.get("usage"):
                    tokens = chunk["usage"]["completion_tokens"]
                elif chunk.get("choices") and chunk["choices"][0].get("delta", {}).get("content"):
                    if first is None:
                        first = time.perf_counter()
            end = time.perf_counter()
            response.success()
        if first is not None:
            events.request.fire(request_type="TTFT", name="time to first token", response_time=(first - start) * 1000, response_length=0, exception=None, context={})
            if tokens > 1 and end > first:
                # Locust's statistics are latencies; tokens/s is reported as a "response time" of the same number.
                events.request.fire(request_type="TPS", name="tokens per second", response_time=(tokens - 1) / (end - first), response_length=tokens, exception=None, context={})
