"""HTTP: requests/s and latency at fixed concurrency, measured with wrk."""

import re
import shutil
import subprocess
from pathlib import Path

# wrk's summary rounds and suffixes units (and its parse once gave NaN); this script
# prints the percentiles in microseconds.
REPORT_SCRIPT = Path(__file__).with_name("wrk_report.lua")


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _percentile_ms(output: str, name: str) -> float:
    match = re.search(rf"^moim-bench {name}_us=(\d+)$", output, re.MULTILINE)
    return round(int(match.group(1)) / 1000, 3) if match else float("nan")


def wrk(url: str, *, seconds: int, connections: int, headers: dict[str, str]) -> dict:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    args += ["-s", str(REPORT_SCRIPT)]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return {
        "requests_per_s": rps,
        "p50_ms": _percentile_ms(output, "p50"),
        "p99_ms": _percentile_ms(output, "p99"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }
