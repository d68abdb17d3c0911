"""Where and with what a run was made: machine, Python, package versions, load, date."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from datetime import UTC, datetime
from importlib import metadata

PACKAGES = (
    "policyengine",
    "PyYAML",
    "lark",
    "PyJWT",
    "cryptography",
    "redis",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "casbin",
    "cedarpy",
    "limits",
    "cerbos",
    "matplotlib",
)


def describe(redis_url: str | None) -> dict[str, str]:
    described = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.system()} {platform.release()} {platform.machine()}",
        "CPU": cpu_model(),
        "CPU count": str(os.cpu_count()),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "load average, start": load(),
    }
    versions = []
    for package in PACKAGES:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    described["packages"] = ", ".join(versions)
    described["Redis server"] = redis_version(redis_url)
    described["wrk"] = tool_version(["wrk", "-v"])
    return described


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def redis_version(url: str | None) -> str:
    if url is None:
        return "not used"
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return str(client.info("server")["redis_version"])
        finally:
            client.close()
    except Exception as error:  # any failure: the Redis parts will say they were skipped
        return f"unavailable ({type(error).__name__})"


def tool_version(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return "not installed"
    done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "unknown"
