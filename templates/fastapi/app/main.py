"""OpenAI-compatible streaming service for {{ name }}: FastAPI + Optimum ONNX Runtime, as in the book, done right.

- ORTModelForCausalLM runs the ONNX export; TextIteratorStreamer streams tokens from a worker thread.
- Hashed API keys compared in constant time; slowapi rate limits per key; Prometheus metrics; graceful shutdown.
"""
import asyncio
import hmac
import hashlib
import json
import threading
import time
import uuid
from contextlib import asynccontextmanager
from typing import Optional

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, Field
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded

from .settings import Settings

settings = Settings()

REQUESTS = Counter("llmops_requests_total", "HTTP requests by route and status code.", ["route", "status"])
LATENCY = Histogram("llmops_request_duration_seconds", "Request latency by route.", ["route"])
TTFT = Histogram("llmops_time_to_first_token_seconds", "Time to the first generated token.")
GENERATED = Counter("llmops_generation_tokens_total", "Tokens generated.")
QUEUE_DEPTH = Gauge("llmops_queue_depth", "Requests inside the server: waiting plus running (the autoscaling signal).")

state: dict = {"ready": False, "draining": False, "model": None, "tokenizer": None}
# The ONNX session is not re-entrant per request here; one generation at a time per worker, others wait.
generation_lock = threading.Lock()


@asynccontextmanager
async def lifespan(app: FastAPI):
    from optimum.onnxruntime import ORTModelForCausalLM
    from transformers import AutoTokenizer

    state["tokenizer"] = AutoTokenizer.from_pretrained(settings.model_dir)
    state["model"] = ORTModelForCausalLM.from_pretrained(settings.model_dir, use_cache=True)
    state["ready"] = True
    yield
    # uvicorn stops accepting on SIGTERM and waits for open requests (--timeout-graceful-shutdown).
    state["draining"] = True
    state["ready"] = False


app = FastAPI(title="{{ name }}", lifespan=lifespan)


def client_key(request: Request) -> str:
    return request.headers.get("authorization", "anonymous")


limiter = Limiter(key_func=client_key, default_limits=[settings.rate_limit])
app.state.limiter = limiter


@app.exception_handler(RateLimitExceeded)
async def rate_limited(request: Request, exc: RateLimitExceeded):
    return JSONResponse(status_code=429, content={"error": {"message": f"rate limit exceeded: {exc.detail}", "type": "rate_limit_error", "code": "rate_limit_exceeded"}}, headers={"Retry-After": "60"})


@app.exception_handler(HTTPException)
async def http_error(request: Request, exc: HTTPException):
    return JSONResponse(status_code=exc.status_code, content={"error": {"message": exc.detail, "type": "invalid_request_error"}}, headers=getattr(exc, "headers", None))


@app.middleware("http")
async def metrics_and_limits(request: Request, call_next):
    if int(request.headers.get("content-length") or 0) > settings.max_body_bytes:
        return JSONResponse(status_code=413, content={"error": {"message": "request body too large", "type": "invalid_request_error"}})
    if state["draining"] and request.url.path.startswith("/v1/"):
        return JSONResponse(status_code=503, content={"error": {"message": "shutting down", "type": "server_error"}})
    started = time.perf_counter()
    response = await call_next(request)
    REQUESTS.labels(request.url.path, str(response.status_code)).inc()
    LATENCY.labels(request.url.path).observe(time.perf_counter() - started)
    return response


def require_key(request: Request) -> None:
    if not settings.api_key_digests:
        return
    header = request.headers.get("authorization", "")
    presented = hashlib.sha256(header.removeprefix("Bearer ").strip().encode()).digest()
    if not any(hmac.compare_digest(presented, stored) for stored in settings.api_key_digests):
        raise HTTPException(status_code=401, detail="invalid or missing API key")


class Message(BaseModel):
    role: str
    content: str


class CompletionRequest(BaseModel):
    model: Optional[str] = None
    prompt: Optional[str] = None
    messages: Optional[list[Message]] = None
    max_tokens: int = Field(default=settings.max_new_tokens_default, gt=0)
    temperature: float = Field(default=1.0, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    stream: bool = False


def render_prompt(body: CompletionRequest) -> str:
    tokenizer = state["tokenizer"]
    if body.prompt is not None:
        return body.prompt
    if not body.messages:
        raise HTTPException(status_code=400, detail="`prompt` or `messages` is required")
    messages = [m.model_dump() for m in body.messages]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"


def generation_kwargs(body: CompletionRequest) -> dict:
    sampling = body.temperature > 0
    return {"max_new_tokens": body.max_tokens, "do_sample": sampling, **({"temperature": body.temperature, "top_p": body.top_p} if sampling else {})}


async def stream_tokens(body: CompletionRequest, chat: bool):
    from transformers import TextIteratorStreamer

    tokenizer, model = state["tokenizer"], state["model"]
    inputs = tokenizer(render_prompt(body), return_tensors="pt")
    if inputs["input_ids"].shape[1] + body.max_tokens > getattr(model.config, "max_position_embeddings", 1 << 30):
        raise HTTPException(status_code=400, detail="prompt plus max_tokens exceeds the model's context")
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)

    def run():
        with generation_lock:
            model.generate(**inputs, streamer=streamer, **generation_kwargs(body))

    QUEUE_DEPTH.inc()
    threading.Thread(target=run, daemon=True).start()
    started = time.perf_counter()
    first = True
    loop = asyncio.get_running_loop()
    try:
        while True:
            text = await loop.run_in_executor(None, lambda: next(streamer, None))
            if text is None:
                break
            if first and text:
                TTFT.observe(time.perf_counter() - started)
                first = False
            GENERATED.inc()
            yield text
    finally:
        QUEUE_DEPTH.dec()


def chunk(kind: str, request_id: str, model: str, text: str, finish: Optional[str]) -> str:
    if kind == "chat":
        choice = {"index": 0, "delta": {"content": text} if text else {}, "finish_reason": finish}
        obj = "chat.completion.chunk"
    else:
        choice = {"index": 0, "text": text, "finish_reason": finish}
        obj = "text_completion"
    return "data: " + json.dumps({"id": request_id, "object": obj, "created": int(time.time()), "model": model, "choices": [choice]}) + "\n\n"


async def complete(body: CompletionRequest, kind: str):
    if body.model and body.model != settings.model_name:
        raise HTTPException(status_code=400, detail=f"model `{body.model}` does not exist")
    request_id = f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-{uuid.uuid4().hex}"
    if body.stream:
        async def events():
            async for text in stream_tokens(body, kind == "chat"):
                yield chunk(kind, request_id, settings.model_name, text, None)
            yield chunk(kind, request_id, settings.model_name, "", "stop")
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")
    text = "".join([t async for t in stream_tokens(body, kind == "chat")])
    if kind == "chat":
        return {"id": request_id, "object": "chat.completion", "model": settings.model_name, "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
    return {"id": request_id, "object": "text_completion", "model": settings.model_name, "choices": [{"index": 0, "text": text, "finish_reason": "stop"}]}


@app.post("/v1/completions", dependencies=[Depends(require_key)])
@limiter.limit(settings.rate_limit)
async def completions(request: Request, body: CompletionRequest):
    return await complete(body, "completions")


@app.post("/v1/chat/completions", dependencies=[Depends(require_key)])
@limiter.limit(settings.rate_limit)
async def chat_completions(request: Request, body: CompletionRequest):
    return await complete(body, "chat")


@app.get("/v1/models", dependencies=[Depends(require_key)])
async def models():
    return {"object": "list", "data": [{"id": settings.model_name, "object": "model", "owned_by": "llmops"}]}


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.get("/ready")
async def ready():
    if not state["ready"]:
        return JSONResponse(status_code=503, content={"status": "draining" if state["draining"] else "loading"})
    return {"status": "ready"}


@app.get("/metrics")
async def metrics():
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)
