"""How long the console takes to draw a big ring in headless Chromium (docs/console.md).

A farm of N accounts signing up within an hour on shared devices, phones, cards and IPs is
ingested into the embedded engine and detected; the console, served by uvicorn, then opens the
largest ring in Debian's chromium. The time is from navigation start to the end of the fcose
layout and the first painted frame (the page sets data-ready), median of --repeat loads, for rings
of each --sizes. The previous configuration (bench/console_baseline/ring.js: fcose over the whole
ring in the browser) is measured on the same rings in the same run as the baseline.

    .venv/bin/python bench/console.py [--sizes 50 200 500] [--repeat 5] [--timeout 180]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ringwatch.services import results
from ringwatch.services.detection import DetectionService
from ringwatch.services.keys import Role
from tests.console import browser
from tests.console.served import Served, served_world


def farm(prefix: str, n: int) -> list[dict[str, Any]]:
    events = []
    for i in range(n):
        events.append(
            {
                "event_id": f"{prefix}-{i}",
                "type": "signup",
                "ts": f"2026-03-01T10:{i * 60 // n:02d}:{i % 60:02d}Z",
                "account_id": f"{prefix}{i:04d}",
                "device_id": f"{prefix}-dev-{i % max(1, n // 20)}",
                "phone": f"+447700{len(prefix)}{prefix[1]}{(i % max(1, n // 10)):04d}",
                "card": f"{prefix}-card-{i % max(1, n // 25)}",
                "ip": f"203.0.{i % 7}.{i % 200}",
                "email": f"{prefix}{i}@example.net",
                "country": "GB",
            }
        )
    return events


def seed(served: Served, sizes: list[int]) -> None:
    services = served.app.state.services  # type: ignore[attr-defined]
    events = [e for k, n in enumerate(sizes) for e in farm(f"f{k}x", n)]
    for start in range(0, len(events), 500):
        report = services.ingest.accept(
            list(enumerate(events[start : start + 500])), _Inline(services)
        )
        assert not report.rejected, report
    DetectionService(services.store).run_full()


class _Inline:
    def __init__(self, services: Any) -> None:
        self.services = services

    def enqueue(self, batch_id: str) -> None:
        self.services.ingest.apply(batch_id)


def ring_of_size(served: Served, size: int) -> dict[str, Any]:
    store = served.app.state.services.store  # type: ignore[attr-defined]
    rings = results.export_rings(store)
    best = min(rings, key=lambda r: abs(len(r["members"]) - size))
    return results.ring_view(store, best["ring_id"])


BASELINE = Path(__file__).resolve().parent / "console_baseline"


@contextmanager
def previous_configuration() -> Iterator[None]:
    """Serve the ring page as it was before server-side positions (bench/console_baseline/ring.js:
    fcose over the whole ring in the browser, function style mappers) with the graph JSON
    unplaced, so both configurations are measured in one run on one machine."""
    from ringwatch.console import routes
    from ringwatch.services import ring_layout

    static, place = routes.STATIC, ring_layout.place
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(Path(str(static)), tmp, dirs_exist_ok=True)
        shutil.copy(BASELINE / "ring.js", Path(tmp) / "ring.js")
        routes.STATIC = Path(tmp)
        ring_layout.place = lambda graph: graph
        try:
            yield
        finally:
            routes.STATIC = static
            ring_layout.place = place


def server_parts(served: Served, ring_id: str, repeat: int) -> dict[str, float]:
    """The graph JSON's two server-side steps, timed in process: reading the ring's picture
    from the store, and laying it out."""
    from ringwatch.services import ring_graph, ring_layout

    store = served.app.state.services.store  # type: ignore[attr-defined]
    read, laid = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        graph = ring_graph.ring_graph(store, ring_id)
        t1 = time.perf_counter()
        ring_layout.place(graph)
        read.append((t1 - t0) * 1000)
        laid.append((time.perf_counter() - t1) * 1000)
    return {
        "read_median": round(statistics.median(read), 1),
        "layout_median": round(statistics.median(laid), 1),
    }


def sign_in(driver: Any, served: Served, key: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    # On a loaded machine a browser busy laying out a big ring answers chromedriver late: wait
    # for it rather than fail at the client's default 120 s.
    driver.command_executor.client_config.timeout = 900
    driver.set_page_load_timeout(600)
    driver.get(f"{served.url}/console/login")
    driver.find_element(By.ID, "key").send_keys(key)
    button = driver.find_element(By.CSS_SELECTOR, "#login button")
    button.click()
    WebDriverWait(driver, 120).until(ec.staleness_of(button))


def measure(
    served: Served, key: str, ring_id: str, repeat: int, timeout_s: float
) -> dict[str, Any]:
    """Median of `repeat` loads; a fresh browser for each, so one stuck in a layout that never
    ends cannot hold up the next."""
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
    from urllib3.exceptions import ReadTimeoutError

    times: list[float] = []
    parts: dict[str, list[float]] = {"script-at": [], "fetch-ms": [], "draw-ms": []}
    elements, timed_out = 0, 0
    for _ in range(repeat):
        driver = browser.chrome()
        try:
            sign_in(driver, served, key)
            driver.get(f"{served.url}/console/rings/{ring_id}")
            WebDriverWait(driver, timeout_s).until(
                ec.presence_of_element_located((By.CSS_SELECTOR, "#graph[data-ready]"))
            )
            times.append(
                float(
                    driver.execute_script(
                        "return Number(document.getElementById('graph')"
                        ".getAttribute('data-ready-at'))"
                    )
                )
            )
            elements = int(driver.execute_script("return window.ringwatchGraph.elements().length"))
            for name, values in parts.items():
                # Only the current page marks its parts; the previous one sets data-ready-at only.
                got = driver.execute_script(
                    "return document.getElementById('graph').getAttribute(arguments[0])",
                    f"data-{name}",
                )
                if got is not None:
                    values.append(float(got))
        except (TimeoutException, WebDriverException, ReadTimeoutError):
            timed_out += 1
            break  # the next load would time out as well; the budget says enough
        finally:
            driver.quit()
    return {
        "median_ms": round(statistics.median(times), 1) if times else None,
        "runs_ms": [round(t, 1) for t in times],
        "timed_out": timed_out,
        "timeout_s": timeout_s,
        "elements": elements,
        # medians of where the time went: navigation start to the page script, the graph JSON
        # (server queries and layout), drawing
        "parts_ms": {k: round(statistics.median(v), 1) for k, v in parts.items() if v},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/console.json"))
    args = parser.parse_args()
    if not browser.available():
        sys.exit(f"needs {browser.CHROMIUM} and {browser.CHROMEDRIVER} (bash scripts/browser.sh)")
    report: dict[str, Any] = {
        "machine_cpus": os.cpu_count(),
        "load_average_1m_at_start": os.getloadavg()[0],
        "sizes": {},
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        served_world(Path(tmp), 0, env="development") as served,
    ):
        started = time.perf_counter()
        seed(served, args.sizes)
        print(f"seeded and detected in {time.perf_counter() - started:.1f} s")
        key = served.key(Role.INVESTIGATOR)
        for size in args.sizes:
            ring = ring_of_size(served, size)
            row: dict[str, Any] = {"ring": ring["id"], "accounts": len(ring["members"])}
            row["server_ms"] = server_parts(served, ring["id"], args.repeat)
            print(f"{row['accounts']:>4} accounts server  {row['server_ms']}")
            row["current"] = measure(served, key, ring["id"], args.repeat, args.timeout)
            with previous_configuration():
                row["previous"] = measure(
                    served, key, ring["id"], args.baseline_repeat, args.timeout
                )
            report["sizes"][str(size)] = row
            for label in ("current", "previous"):
                got = row[label]
                shown = (
                    f"median {got['median_ms']:.0f} ms {got['runs_ms']}"
                    if got["median_ms"] is not None
                    else f"not laid out within {args.timeout:.0f} s"
                )
                print(
                    f"{row['accounts']:>4} accounts {label:<8} {got['elements']:>5} elements: "
                    f"{shown} {got['parts_ms'] or ''}"
                )
    report["load_average_1m_at_end"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
