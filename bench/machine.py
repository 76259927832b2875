"""What the figures were measured on: date, CPU, cores, Python, library and nginx versions."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from importlib import metadata

from bench.nginx import nginx_binary

LIBRARIES = (
    "requests",
    "urllib3",
    "selectolax",
    "psutil",
    "numpy",
    "aiohttp",
    "Scrapy",
    "Twisted",
    "matplotlib",
    "PySide6-Essentials",
    "pyqtgraph",
    "py-spy",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nginx_version() -> str | None:
    binary = nginx_binary()
    if binary is None:
        return None
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    return done.stderr.strip().removeprefix("nginx version: ")


def describe() -> dict:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "libraries": versions,
        "nginx": _nginx_version(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
