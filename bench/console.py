"""How long the console takes to draw a big ring in headless Chromium (docs/console.md).

A farm of N accounts signing up within an hour on shared devices, phones, cards and IPs is
ingested into the embedded engine and detected; the console, served by uvicorn, then opens the
largest ring in Debian's chromium. The time is from navigation start to the end of the fcose
layout (the page sets data-ready), median of --repeat loads. A 50-account ring is measured in the
same run as the baseline.

    .venv/bin/python bench/console.py [--accounts 500] [--repeat 5] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
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


def measure(driver: Any, served: Served, ring_id: str, repeat: int) -> dict[str, Any]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    times, elements = [], 0
    for _ in range(repeat):
        driver.get(f"{served.url}/console/rings/{ring_id}")
        WebDriverWait(driver, 120).until(
            ec.presence_of_element_located((By.CSS_SELECTOR, "#graph[data-ready]"))
        )
        times.append(
            float(
                driver.execute_script(
                    "return Number(document.getElementById('graph').getAttribute('data-ready-at'))"
                )
            )
        )
        elements = int(driver.execute_script("return window.ringwatchGraph.elements().length"))
    return {
        "median_ms": round(statistics.median(times), 1),
        "runs_ms": [round(t, 1) for t in times],
        "elements": elements,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--baseline", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/results/console.json"))
    args = parser.parse_args()
    if not browser.available():
        sys.exit(f"needs {browser.CHROMIUM} and {browser.CHROMEDRIVER} (bash scripts/browser.sh)")
    with (
        tempfile.TemporaryDirectory() as tmp,
        served_world(Path(tmp), 0, env="development") as served,
    ):
        started = time.perf_counter()
        seed(served, [args.accounts, args.baseline])
        print(f"seeded and detected in {time.perf_counter() - started:.1f} s")
        driver = browser.chrome()
        try:
            driver.get(f"{served.url}/console/login")
            from selenium.webdriver.common.by import By

            driver.find_element(By.ID, "key").send_keys(served.key(Role.INVESTIGATOR))
            driver.find_element(By.CSS_SELECTOR, "#login button").click()
            report: dict[str, Any] = {"machine_cpus": __import__("os").cpu_count()}
            for label, size in (("ring", args.accounts), ("baseline", args.baseline)):
                ring = ring_of_size(served, size)
                got = measure(driver, served, ring["id"], args.repeat)
                got["accounts"] = len(ring["members"])
                report[label] = got
                print(
                    f"{label:<8} {got['accounts']:>4} accounts, {got['elements']:>5} elements: "
                    f"median {got['median_ms']:.0f} ms to laid out ({got['runs_ms']})"
                )
        finally:
            driver.quit()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
