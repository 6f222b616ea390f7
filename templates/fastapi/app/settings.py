"""Settings from the environment, read once at start-up."""
import hashlib
import os
from dataclasses import dataclass, field


def _keys() -> list[str]:
    keys = [k.strip() for k in os.environ.get("API_KEYS", "").split(",") if k.strip()]
    path = os.environ.get("API_KEYS_FILE")
    if path:
        with open(path, encoding="utf-8") as handle:
            keys += [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    return keys


@dataclass(frozen=True)
class Settings:
    model_dir: str = field(default_factory=lambda: os.environ.get("MODEL_DIR", "model"))
    model_name: str = field(default_factory=lambda: os.environ.get("MODEL_NAME", "{{ name }}"))
    # Only SHA-256 digests of the keys are kept; requests are compared digest to digest in constant time.
    api_key_digests: tuple[bytes, ...] = field(default_factory=lambda: tuple(hashlib.sha256(k.encode()).digest() for k in _keys()))
    rate_limit: str = field(default_factory=lambda: os.environ.get("RATE_LIMIT", "60/minute"))
    max_new_tokens_default: int = 16
    shutdown_timeout: int = field(default_factory=lambda: int(os.environ.get("SHUTDOWN_TIMEOUT", "30")))
    max_body_bytes: int = field(default_factory=lambda: int(os.environ.get("MAX_BODY_BYTES", "1048576")))
